//! Splits a byte stream into frames: `int32 total length` then that many bytes.

use bytes::{Buf, BytesMut};

use super::{RemotingCommand, RemotingError};

/// The length a partly received frame claims, once its prefix has arrived.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let b = buf.get(..4)?;
    usize::try_from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok()
}

/// Takes one whole frame off the front of `buf`, if it has arrived.
///
/// The claimed length is checked against `max` before anything is reserved,
/// so a hostile length never makes us allocate it.
pub fn parse_frame(buf: &mut BytesMut, max: usize) -> Result<Option<RemotingCommand>, RemotingError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let total = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if total < 4 {
        return Err(RemotingError::BadHeader(format!("frame length {total} is too small")));
    }
    let total = total as usize;
    if total > max {
        return Err(RemotingError::FrameTooLarge(total, max));
    }
    if buf.len() < 4 + total {
        return Ok(None);
    }
    buf.advance(4);
    let frame = buf.split_to(total).freeze();
    RemotingCommand::decode(frame).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_whole_frame_then_decodes() {
        let cmd = RemotingCommand::request(34, 7).with_body(&b"{}"[..]);
        let bytes = cmd.encode();
        let mut buf = BytesMut::new();
        for (i, b) in bytes.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let r = parse_frame(&mut buf, 1024).unwrap();
            if i + 1 < bytes.len() {
                assert!(r.is_none());
            } else {
                assert_eq!(r.unwrap().opaque, 7);
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn oversize_frame_is_refused_before_it_arrives() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        match parse_frame(&mut buf, 16 << 20) {
            Err(RemotingError::FrameTooLarge(n, _)) => assert_eq!(n, i32::MAX as usize),
            other => panic!("unexpected {other:?}"),
        }
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn negative_length_is_an_error() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(parse_frame(&mut buf, 1024).is_err());
    }
}
