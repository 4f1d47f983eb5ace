//! Media Streams: the provider's bidirectional audio WebSocket, without the
//! socket. [`protocol`] parses and writes the JSON messages; [`session`] is
//! the sans-I/O state machine that paces prompts, listens for keys and
//! speech, records, and handles barge-in. The async loop that connects it
//! to a real socket, the store and the call machine is `http::media_ws`.

mod pre_roll;
pub mod protocol;
pub mod session;

pub use protocol::{Command, Event, ProtocolError, Start};
pub use session::{Action, Session, SessionConfig, Wait};
