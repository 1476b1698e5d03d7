//! The member side of the extension (draft §"Receiving MDATA",
//! §"Acknowledgement: MSACK Timing and Feedback Scaling").

pub mod ext;
pub mod rx;
