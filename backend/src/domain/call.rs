//! The closed sets of words of a call row (`calls`): what it carries, who is who, where it stands
//! and how it ended. Stored and sent as the same lowercase words.

use super::conversation::{text_enum, UnknownValue};

text_enum! {
    /// What a call carries (`calls.media`); either side may share a screen in either.
    CallMedia, "call media" {
        /// Voice only.
        Audio = "audio",
        /// Voice and camera.
        Video = "video",
    }
}

text_enum! {
    /// One of a call's two parties (`calls.caller`, `calls.ended_by`).
    CallSide, "call side" {
        /// The conversation's guest.
        Guest = "guest",
        /// The operator the conversation is assigned to.
        Operator = "operator",
        /// Beckon itself (an unanswered call that timed out).
        System = "system",
    }
}

text_enum! {
    /// Where a call stands (`calls.state`).
    CallState, "call state" {
        /// Started, not answered yet.
        Ringing = "ringing",
        /// Answered; media may flow.
        Active = "active",
        /// Over (see its outcome).
        Ended = "ended",
    }
}

text_enum! {
    /// How a call ended (`calls.outcome`).
    CallOutcome, "call outcome" {
        /// Answered, then hung up by one side.
        Completed = "completed",
        /// The called side refused it.
        Declined = "declined",
        /// Nobody answered in time.
        Missed = "missed",
        /// The caller hung up before it was answered.
        Cancelled = "cancelled",
    }
}

impl CallSide {
    /// The other party.
    pub fn other(self) -> CallSide {
        match self {
            CallSide::Guest => CallSide::Operator,
            CallSide::Operator | CallSide::System => CallSide::Guest,
        }
    }
}

impl CallMedia {
    /// The word in transcript lines ("a video call").
    pub fn noun(self) -> &'static str {
        match self {
            CallMedia::Audio => "voice call",
            CallMedia::Video => "video call",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for m in CallMedia::ALL {
            assert_eq!(m.as_str().parse::<CallMedia>(), Ok(*m));
        }
        for s in CallState::ALL {
            assert_eq!(s.as_str().parse::<CallState>(), Ok(*s));
        }
        for o in CallOutcome::ALL {
            assert_eq!(o.as_str().parse::<CallOutcome>(), Ok(*o));
        }
        assert!("screen".parse::<CallMedia>().is_err());
        assert_eq!(CallSide::Guest.other(), CallSide::Operator);
    }
}
