//! Micro-benchmarks of the pure domain: one triage transition, an SLA
//! deadline across a business calendar with holidays, rendering the intake
//! message, and the reminder decision over 100 k in-memory requests.
//! `cargo bench -p intake-bench --bench domain`

use std::hint::black_box;

use chrono::{NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use criterion::{Criterion, criterion_group, criterion_main};
use intake::domain::policy::Policy;
use intake::domain::reminders;
use intake::domain::request::{Link, Request, RequestKind, RequestNumber, SlaDeadlines, Title};
use intake::domain::severity::{Severities, Severity, SeverityKey};
use intake::domain::sla::{self, BusinessCalendar, ClockKind, SlaSpan};
use intake::domain::state::State;
use intake::domain::triage::{Actor, Event, transition};
use intake::slack::render;

fn severities() -> Severities {
    let sev = |key: &str, label: &str, clock| Severity {
        key: SeverityKey::new(key).expect("key"),
        label: label.into(),
        response: SlaSpan::Hours(4),
        resolution: SlaSpan::Days(3),
        clock,
        oncall: key == "sev1",
    };
    Severities::new(vec![
        sev("sev1", "Critical", ClockKind::Wall),
        sev("sev2", "High", ClockKind::Business),
        sev("sev3", "Medium", ClockKind::Business),
    ])
    .expect("severities")
}

fn calendar() -> BusinessCalendar {
    let holidays = (0..30)
        .map(|d| NaiveDate::from_ymd_opt(2026, 12, 1).expect("date") + TimeDelta::days(d * 7))
        .collect();
    BusinessCalendar::new(
        chrono_tz::Europe::Berlin,
        vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
        NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
        holidays,
    )
    .expect("calendar")
}

fn request(n: i64, state: State) -> Request {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).single().expect("time");
    Request {
        number: RequestNumber(n),
        kind: RequestKind::Bug,
        title: Title::stored("<!channel> checkout page times out & spins".into()),
        description: "Since this morning the checkout page spins for ~30s & shows a 504 <gateway>.".repeat(20),
        area: Some("Checkout".into()),
        team: "default".into(),
        link: Some(Link::stored(
            "https://status.example.com/incidents/7781?src=slack&lang=en".into(),
        )),
        severity: SeverityKey::new("sev2").expect("key"),
        state,
        submitter: "U0SUBMIT01".into(),
        owner: (state != State::New).then(|| "U0TRIAGE01".to_string()),
        owner_unreachable: false,
        deadlines: SlaDeadlines {
            response_due: at + TimeDelta::hours(4),
            resolution_due: at + TimeDelta::days(3),
        },
        created_at: at,
        tracker: None,
        revisit_on: None,
        version: 1,
        sla_paused_at: None,
        resolved_at: None,
        reminder_stage: 0,
        sla_cycle: 0,
        demand: 2,
        intake_message: None,
        intake_error: None,
        receipt: None,
    }
}

fn benches(c: &mut Criterion) {
    let new = request(42, State::New);
    let triager = Actor::person("U0TRIAGE01", vec!["default".into()]);
    let cal = calendar();
    let policy = Policy {
        severities: severities(),
        calendar: cal.clone(),
        thresholds: reminders::thresholds(&[0.5, 0.9]),
        followup_after: SlaSpan::Days(3),
        auto_close_after: SlaSpan::Days(7),
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 11, 0, 0).single().expect("time");
    c.bench_function("transition: take", |b| {
        b.iter(|| transition(black_box(&new), &Event::Take, &triager, &policy, at))
    });

    let start = Utc.with_ymd_and_hms(2026, 11, 27, 16, 30, 0).single().expect("time");
    c.bench_function("sla: 30 business days, Berlin, weekly holidays", |b| {
        b.iter(|| sla::deadline(black_box(start), SlaSpan::Days(30), ClockKind::Business, &cal))
    });

    let teams = intake::domain::team::Teams::new(vec![intake::domain::team::Team {
        key: "default".into(),
        name: "Product".into(),
        channel: "C0INTAKE01".into(),
        oncall_channel: None,
        oncall_usergroup: None,
        digest_channel: None,
        triagers: vec![],
        usergroup: None,
        office_hours: String::new(),
        areas: vec![],
        severities: severities(),
    }])
    .expect("a team");
    c.bench_function("render: intake message", |b| {
        b.iter(|| render::intake_message(black_box(&new), &teams))
    });

    let many: Vec<Request> = (0..100_000).map(|n| request(n, State::Triaged)).collect();
    let severity = severities().get("sev2").expect("sev2").clone();
    let thresholds = reminders::thresholds(&[0.5, 0.9]);
    let span = reminders::span(reminders::SlaKind::Resolution, &severity, &cal);
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().expect("time");
    c.bench_function("reminders: most urgent threshold, 100k requests", |b| {
        b.iter(|| {
            many.iter()
                .filter_map(|r| {
                    reminders::most_urgent(r.deadlines.resolution_due, span, &thresholds, now, &severity, &cal)
                })
                .count()
        })
    });
}

criterion_group! {
    name = domain;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(domain);
