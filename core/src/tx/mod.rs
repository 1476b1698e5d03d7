//! Send side: send queue with stream scheduler, retransmission queue
//! (which applies the window of a [`crate::congestion::Controller`]), RTO.
//!
//! Data flows `SendQueue::produce` -> `RetransmissionQueue::add_sent` (which
//! assigns the TSN) -> the association encodes the fragment as DATA or
//! I-DATA. See [`retransmission_queue`] for the exact call sequence.

pub(crate) mod loss;
pub mod retransmission_queue;
pub mod rto;
pub mod send_queue;

pub use retransmission_queue::{
    ForwardTsnInfo, LossTimerOutcome, RetransmissionConfig, RetransmissionQueue, SackError,
    SackOutcome,
};
pub use rto::{Fraction, Rto, RtoConfig};
pub use send_queue::{
    MessageKey, OutgoingMessage, Produced, SendError, SendQueue, SendQueueConfig,
};
