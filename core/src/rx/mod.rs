//! Receive side: TSN tracking and SACK generation ([`data_tracker`]),
//! reassembly and per-association delivery ([`reassembly`]).

pub mod data_tracker;
pub mod reassembly;

pub use data_tracker::{AckInfo, DataTracker, DataTrackerConfig};
pub use reassembly::{
    AbortReason, Delivery, DeliveryKind, ImplausibleSkip, OversizePolicy, ReassemblyConfig,
    ReassemblyConfigError, ReassemblyQueue,
};
