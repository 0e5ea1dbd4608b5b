//! The one vocabulary of Slack ids: every control's `action_id`, the
//! modals' `callback_id`s, and how each maps to a domain step. A typo is a
//! compile error; an id we do not know is refused, never guessed.

use crate::domain::triage::StepKind;

/// A control on the intake message or a DM (DESIGN §5 names these ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Take,
    Assign,
    SetSeverity,
    AskInfo,
    Accept,
    Defer,
    Reject,
    Resolve,
    Resume,
    Reopen,
    AddInfo,
    Confirm,
    /// Move the request to another team (a select of teams on the card).
    MoveTeam,
    /// Post a request's card again after its post failed (the triagers'
    /// notice). Not a triage step.
    Repost,
    /// Correct a request filed for you (the file emoji's receipt). Not a
    /// triage step: it opens the filing form again.
    Edit,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::Take,
        Action::Assign,
        Action::SetSeverity,
        Action::AskInfo,
        Action::Accept,
        Action::Defer,
        Action::Reject,
        Action::Resolve,
        Action::Resume,
        Action::Reopen,
        Action::AddInfo,
        Action::Confirm,
        Action::MoveTeam,
        Action::Repost,
        Action::Edit,
    ];

    /// The `action_id`.
    pub fn id(self) -> &'static str {
        match self {
            Action::Take => "take",
            Action::Assign => "assign",
            Action::SetSeverity => "set_severity",
            Action::AskInfo => "ask_info",
            Action::Accept => "accept",
            Action::Defer => "defer",
            Action::Reject => "reject",
            Action::Resolve => "resolve",
            Action::Resume => "resume",
            Action::Reopen => "reopen",
            Action::AddInfo => "add_info",
            Action::Confirm => "confirm",
            Action::MoveTeam => "move_team",
            Action::Repost => "repost",
            Action::Edit => "edit_request",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.id() == id)
    }

    /// The domain step this control starts; `None` for a control that is
    /// not a triage step (*Post again*).
    pub fn step(self) -> Option<StepKind> {
        Some(match self {
            Action::Take => StepKind::Take,
            Action::Assign => StepKind::Assign,
            Action::SetSeverity => StepKind::SetSeverity,
            Action::AskInfo => StepKind::AskInfo,
            Action::Accept => StepKind::Accept,
            Action::Defer => StepKind::Defer,
            Action::Reject => StepKind::Reject,
            Action::Resolve => StepKind::Resolve,
            Action::Resume => StepKind::Resume,
            Action::Reopen => StepKind::Reopen,
            Action::AddInfo => StepKind::AddInfo,
            Action::Confirm => StepKind::Confirm,
            Action::MoveTeam => StepKind::MoveTeam,
            Action::Repost | Action::Edit => return None,
        })
    }

    /// The control for a step a person can take, if it has one (escalation
    /// is an emoji, revisits and auto-close are the scheduler's).
    pub fn for_step(step: StepKind) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.step() == Some(step))
    }

    /// The modal a control opens first, for steps that need words.
    pub fn form(self) -> Option<StepForm> {
        StepForm::ALL.into_iter().find(|f| f.action() == self)
    }
}

/// A step that needs words, collected in a modal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepForm {
    AskInfo,
    Accept,
    Defer,
    Reject,
    Resolve,
    AddInfo,
}

impl StepForm {
    pub const ALL: [StepForm; 6] = [
        StepForm::AskInfo,
        StepForm::Accept,
        StepForm::Defer,
        StepForm::Reject,
        StepForm::Resolve,
        StepForm::AddInfo,
    ];

    /// The control that opens this form.
    pub fn action(self) -> Action {
        match self {
            StepForm::AskInfo => Action::AskInfo,
            StepForm::Accept => Action::Accept,
            StepForm::Defer => Action::Defer,
            StepForm::Reject => Action::Reject,
            StepForm::Resolve => Action::Resolve,
            StepForm::AddInfo => Action::AddInfo,
        }
    }
}

/// The message shortcut *File as request* (its `callback_id`, in the
/// manifest).
pub const FILE_AS_REQUEST: &str = "file_as_request";

/// A modal we open, by its `callback_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modal {
    /// The `/request` form (`new_request`).
    NewRequest,
    /// A triage step's form (`triage_<action id>`).
    Step(StepForm),
    /// The filing form again, to correct a request (`edit_request`).
    EditRequest,
}

impl Modal {
    pub fn callback_id(self) -> String {
        match self {
            Modal::NewRequest => "new_request".to_string(),
            Modal::Step(form) => format!("triage_{}", form.action().id()),
            Modal::EditRequest => "edit_request".to_string(),
        }
    }

    pub fn from_callback_id(id: &str) -> Option<Self> {
        match id {
            "new_request" => return Some(Modal::NewRequest),
            "edit_request" => return Some(Modal::EditRequest),
            _ => {}
        }
        let action = Action::from_id(id.strip_prefix("triage_")?)?;
        action.form().map(Modal::Step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_reads_back_as_its_action() {
        for action in Action::ALL {
            assert_eq!(Action::from_id(action.id()), Some(action));
            if let Some(step) = action.step() {
                assert_eq!(Action::for_step(step), Some(action));
            }
        }
        assert_eq!(Action::from_id("reopen_all"), None);
    }

    #[test]
    fn only_post_again_and_edit_are_not_triage_steps() {
        let not_steps: Vec<Action> = Action::ALL.into_iter().filter(|a| a.step().is_none()).collect();
        assert_eq!(not_steps, [Action::Repost, Action::Edit]);
        assert_eq!(Action::Repost.form(), None, "Post again opens no form");
    }

    #[test]
    fn every_modal_reads_back_from_its_callback_id() {
        let modals = StepForm::ALL
            .map(Modal::Step)
            .into_iter()
            .chain([Modal::NewRequest, Modal::EditRequest]);
        for modal in modals {
            assert_eq!(Modal::from_callback_id(&modal.callback_id()), Some(modal));
        }
        assert_eq!(Modal::from_callback_id("triage_take"), None, "take has no form");
    }

    #[test]
    fn the_card_offers_only_steps_with_controls() {
        use crate::domain::state::State;
        for state in State::ALL {
            for step in crate::domain::triage::card_steps(state) {
                assert!(Action::for_step(*step).is_some(), "{step:?} in {state}");
            }
        }
    }
}
