//! How a request ended, as a run records it: one of the stack's answers, a stream that broke
//! after its first token, or another error.
//!
//! This is the one list of outcomes. The recorder's counters, `timeseries.csv`'s columns, the
//! outcome chart's bands and colours and `summary.json`'s `outcomes` keys all walk
//! [`Outcome::ALL`] and index by [`Outcome::index`], so adding an answer kind to the client is
//! one change that every report follows.

use crate::client::{ChatResponse, ClientError, Outcome as Answer};

/// A request's outcome in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The stack answered, in this way.
    Answer(Answer),
    /// A streamed answer broke after its first content token (`ClientError::StreamBroken`):
    /// the user saw part of an answer, which is neither an answer nor a plain failure.
    StreamBroken,
    /// The stack gave up otherwise (cut-off requests included).
    Error,
}

impl Outcome {
    /// How many outcomes there are: the length of every per-outcome array.
    pub const COUNT: usize = Answer::ALL.len() + 2;

    /// Every outcome: the client's answers in their order, then [`Outcome::StreamBroken`] and
    /// [`Outcome::Error`].
    pub const ALL: [Outcome; Self::COUNT] = {
        let mut all = [Outcome::Error; Self::COUNT];
        let mut i = 0;
        while i < Answer::ALL.len() {
            all[i] = Outcome::Answer(Answer::ALL[i]);
            i += 1;
        }
        all[Answer::ALL.len()] = Outcome::StreamBroken;
        all
    };

    /// Position in [`Outcome::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Outcome::Answer(a) => a.index(),
            Outcome::StreamBroken => Answer::ALL.len(),
            Outcome::Error => Answer::ALL.len() + 1,
        }
    }

    /// The snake_case name reports use as a key and a column.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Answer(a) => a.as_str(),
            Outcome::StreamBroken => "stream_broken",
            Outcome::Error => "error",
        }
    }

    /// The outcome of a finished request.
    pub fn of(result: &Result<ChatResponse, ClientError>) -> Self {
        match result {
            Ok(r) => Outcome::Answer(r.outcome),
            Err(ClientError::StreamBroken { .. }) => Outcome::StreamBroken,
            Err(_) => Outcome::Error,
        }
    }

    /// The outcome named `name`, as read back from a report.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// A count per outcome, indexed by [`Outcome::index`].
pub type OutcomeCounts = [u64; Outcome::COUNT];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_sits_at_its_index_under_a_distinct_name() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(o.index(), i, "{o:?}");
            assert_eq!(Outcome::from_name(o.name()), Some(o));
        }
        for (i, a) in Answer::ALL.into_iter().enumerate() {
            assert_eq!(a.index(), i, "{a:?}");
        }
        assert_eq!(Outcome::ALL[Outcome::COUNT - 1], Outcome::Error);
        assert_eq!(Outcome::from_name("nope"), None);
        let broken = ClientError::StreamBroken {
            cause: Box::new(ClientError::StreamUnfinished),
            tokens: 2,
        };
        assert_eq!(Outcome::of(&Err(broken)), Outcome::StreamBroken);
        assert_eq!(
            Outcome::of(&Err(ClientError::StreamUnfinished)),
            Outcome::Error
        );
    }
}
