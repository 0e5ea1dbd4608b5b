# intake: multi-stage build. The runtime image holds the binary, its config
# and CA certificates (to reach https://slack.com), and runs as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY migrations migrations
# The test kit and the benchmarks are workspace members, so they must be present.
COPY testkit testkit
COPY bench bench
COPY src src
COPY config config
RUN cargo build --release --locked -p intake --bin intake

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/intake --create-home intake
COPY --from=build /src/target/release/intake /usr/local/bin/intake
COPY config /etc/intake/config
WORKDIR /var/lib/intake
USER intake
# Listen on all interfaces inside the container; the SQLite file lives in
# /var/lib/intake (mount a volume there), or set INTAKE__DATABASE__URL to
# a postgres:// URL. SLACK_BOT_TOKEN is required, and SLACK_SIGNING_SECRET
# (HTTP) or SLACK_APP_TOKEN (Socket Mode: no port needs to face Slack).
ENV INTAKE__SERVER__BIND=0.0.0.0:3000 \
    INTAKE__DATABASE__URL=sqlite:///var/lib/intake/intake.db?mode=rwc \
    INTAKE__LOG__FORMAT=json
EXPOSE 3000
VOLUME ["/var/lib/intake"]
ENTRYPOINT ["intake"]
CMD ["serve"]
