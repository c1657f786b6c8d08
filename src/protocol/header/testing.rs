//! Shared checks for the header tests.

use std::fmt::Debug;

use super::{CommandHeader, FieldSpec};
use crate::protocol::ProtocolError;
use crate::remoting::RemotingCommand;

/// Encodes `h` into a request of `code`, decodes it back, and checks every
/// field of `fields`: the sample must set them all; dropping a required
/// one is `MissingField(key)`, dropping an optional one still decodes; a
/// number that does not parse is `BadField(key)`; a bad topic or group name
/// is `InvalidName`. Returns the encoded command.
pub fn check<H: CommandHeader + PartialEq + Debug>(code: i32, h: &H, fields: &[FieldSpec]) -> RemotingCommand {
    let cmd = h.encode(RemotingCommand::request(code, 7));
    assert_eq!(&H::decode(&cmd).unwrap(), h, "round trip");
    assert_eq!(cmd.ext_fields.len(), fields.len(), "the sample sets every field once: {:?}", cmd.ext_fields);
    for f in fields {
        assert!(cmd.ext(f.key).is_some(), "sample lacks {}", f.key);
        let mut c = cmd.clone();
        c.ext_fields.remove(f.key);
        match H::decode(&c) {
            Err(ProtocolError::MissingField(k)) if f.required() => {
                assert_eq!(k, f.key);
                assert_eq!(ProtocolError::MissingField(k).to_string(), format!("the custom field <{}> is null", f.key));
            }
            Ok(_) if !f.required() => {}
            other => panic!("without {}: {other:?}", f.key),
        }
        if f.numeric() {
            let c = cmd.clone().with_ext(f.key, "x1");
            assert!(
                matches!(H::decode(&c), Err(ProtocolError::BadField(k, v)) if k == f.key && v == "x1"),
                "{}",
                f.key
            );
        }
        if matches!(f.kind, "topic" | "group" | "opt_group") {
            let c = cmd.clone().with_ext(f.key, "../x");
            assert!(matches!(H::decode(&c), Err(ProtocolError::InvalidName(_))), "{}", f.key);
        }
    }
    cmd
}
