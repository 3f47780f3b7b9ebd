//! Wire format of tacnode: the protobuf messages generated from
//! `proto/tacnode/v1`, strict wire → domain conversions, and a sans-IO
//! length-prefixed frame codec.
//!
//! - [`frame`]: feed bytes with [`frame::FrameDecoder::feed`], take whole frames
//!   with [`frame::FrameDecoder::next_frame`]; [`frame::encode_frame`] prefixes one.

pub mod frame;
