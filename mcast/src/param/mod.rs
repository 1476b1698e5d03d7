//! The extension's INIT / INIT ACK parameters (draft §"New Parameters and
//! Chunks").

mod capable;

pub use capable::MulticastCapable;
