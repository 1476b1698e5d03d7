//! The server side of the extension: the group sender (draft §"Sending
//! MDATA" to §"Member Leave, Removal, Abort, Restart and Failure").

mod acks;
mod cc;
pub mod ext;
pub mod group;
mod keys;
