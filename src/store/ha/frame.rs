//! The HA wire format of RocketMQ 4.x (`HAConnection` / `HAService.HAClient`):
//! the slave sends its commit-log max offset as 8 bytes big-endian; the
//! master sends frames of a 12-byte header (8-byte physical offset, 4-byte
//! body size, big-endian) followed by that many commit-log bytes. A frame
//! with size 0 is a heartbeat. Everything here is pure: no socket, no store.

use super::HaError;

pub const REPORT_SIZE: usize = 8;
pub const HEADER_SIZE: usize = 8 + 4;
/// The largest frame body a slave accepts: Java's slave reads into a 4 MiB
/// buffer (`HAClient.READ_MAX_BUFFER_SIZE`), so no master that works with
/// it sends more in one frame (`haTransferBatchSize` is 32 KiB by default).
pub const MAX_FRAME_BODY: usize = 4 * 1024 * 1024 - HEADER_SIZE;

pub fn encode_report(max_offset: i64) -> [u8; REPORT_SIZE] {
    max_offset.to_be_bytes()
}

pub fn encode_header(offset: i64, size: usize) -> [u8; HEADER_SIZE] {
    let mut h = [0u8; HEADER_SIZE];
    h[..8].copy_from_slice(&offset.to_be_bytes());
    h[8..].copy_from_slice(&(size as i32).to_be_bytes());
    h
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub offset: i64,
    pub size: usize,
}

/// Checks a received header: a negative offset, a negative size or one over
/// `MAX_FRAME_BODY` is refused.
pub fn decode_header(b: &[u8; HEADER_SIZE]) -> Result<Header, HaError> {
    let offset = i64::from_be_bytes(b[..8].try_into().unwrap());
    let size = i32::from_be_bytes(b[8..].try_into().unwrap());
    if offset < 0 {
        return Err(HaError::Protocol(format!("frame offset {offset} is negative")));
    }
    if size < 0 || size as usize > MAX_FRAME_BODY {
        return Err(HaError::Protocol(format!("frame size {size} out of 0..={MAX_FRAME_BODY}")));
    }
    Ok(Header { offset, size: size as usize })
}

/// Checks a slave's report against the master's commit log: it may not be
/// negative nor beyond what the master has (Java's master closes the
/// connection on an ack past its max offset).
pub fn check_report(reported: i64, master_max: i64) -> Result<i64, HaError> {
    if reported < 0 {
        return Err(HaError::Protocol(format!("slave reported negative offset {reported}")));
    }
    if reported > master_max {
        return Err(HaError::Protocol(format!(
            "slave reported offset {reported} beyond the master's max offset {master_max}"
        )));
    }
    Ok(reported)
}

/// Where the master starts streaming to a slave that first reports
/// `reported` (`WriteSocketService.nextTransferFromWhere`): a slave with
/// nothing (0) gets the start of the master's last commit-log file; any
/// other slave gets exactly what it asked for.
pub fn transfer_start(reported: i64, master_max: i64, file_size: usize) -> i64 {
    if reported == 0 {
        (master_max - master_max % file_size as i64).max(0)
    } else {
        reported
    }
}

/// The slave's offset rule: a frame (data or heartbeat) must start exactly
/// where the slave's data ends (`expected`). A slave with nothing at all
/// (`expected` None) takes a frame at the start of a commit-log file, as the
/// master sends to a slave that reported 0.
pub fn check_frame_offset(offset: i64, expected: Option<i64>, file_size: usize) -> Result<(), HaError> {
    match expected {
        Some(e) if e == offset => Ok(()),
        Some(e) => Err(HaError::Mismatch { expected: e, got: offset }),
        None if offset % file_size as i64 == 0 => Ok(()),
        None => Err(HaError::Protocol(format!("first frame offset {offset} is not at a commit log file start"))),
    }
}

/// The whole records at the front of `buf` (a run of commit-log bytes that
/// starts on a record boundary at absolute `offset`): their total length,
/// without going past the end of the segment of `file_size` bytes holding
/// `offset`. A record's size field is checked before its bytes are awaited:
/// it must be at least 8, at most `max_record`, and end inside the segment,
/// and an end-of-file blank must end exactly at the segment's end.
pub fn whole_records(buf: &[u8], offset: i64, file_size: usize, max_record: usize) -> Result<usize, HaError> {
    use crate::protocol::message::{BLANK_MAGIC_CODE, MESSAGE_MAGIC_CODE};
    let seg_end = (offset / file_size as i64 + 1) * file_size as i64;
    let mut pos = 0usize;
    while buf.len() - pos >= 8 {
        let size = i32::from_be_bytes(buf[pos..pos + 4].try_into().unwrap());
        let magic = i32::from_be_bytes(buf[pos + 4..pos + 8].try_into().unwrap());
        let at = offset + pos as i64;
        if size < 8 || size as usize > max_record || at + size as i64 > seg_end {
            return Err(HaError::Protocol(format!("record at {at} has bad size {size}")));
        }
        if magic == BLANK_MAGIC_CODE {
            if at + size as i64 != seg_end {
                return Err(HaError::Protocol(format!("blank record at {at} does not end its file")));
            }
        } else if magic != MESSAGE_MAGIC_CODE {
            return Err(HaError::Protocol(format!("record at {at} has bad magic {magic:#x}")));
        }
        if buf.len() - pos < size as usize {
            break;
        }
        pos += size as usize;
        if magic == BLANK_MAGIC_CODE {
            break; // the segment ends here; what follows belongs to the next one
        }
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::{BLANK_MAGIC_CODE, MESSAGE_MAGIC_CODE};

    fn rec(size: i32, magic: i32) -> Vec<u8> {
        let mut v = size.to_be_bytes().to_vec();
        v.extend_from_slice(&magic.to_be_bytes());
        v.resize(size as usize, 7);
        v
    }

    #[test]
    fn header_and_report_bytes_are_javas() {
        assert_eq!(encode_report(0x0102_0304_0506_0708), [1, 2, 3, 4, 5, 6, 7, 8]);
        let h = encode_header(0x10, 0x20);
        assert_eq!(h, [0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20]);
        assert_eq!(decode_header(&h).unwrap(), Header { offset: 16, size: 32 });
        assert_eq!(decode_header(&encode_header(99, 0)).unwrap().size, 0, "heartbeat");
    }

    #[test]
    fn hostile_headers_are_refused() {
        let mut h = encode_header(0, 0);
        h[8..].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(decode_header(&h).is_err());
        assert!(decode_header(&encode_header(0, MAX_FRAME_BODY + 1)).is_err());
        assert!(decode_header(&encode_header(0, MAX_FRAME_BODY)).is_ok());
        assert!(decode_header(&encode_header(-5, 1)).is_err());
    }

    #[test]
    fn report_rules() {
        assert_eq!(check_report(100, 100).unwrap(), 100);
        assert!(check_report(101, 100).is_err(), "a slave may not be ahead of the master");
        assert!(check_report(-1, 100).is_err());
    }

    #[test]
    fn transfer_starts_where_java_starts() {
        let fs = 1000;
        assert_eq!(transfer_start(0, 0, fs), 0);
        assert_eq!(transfer_start(0, 2500, fs), 2000, "empty slave: start of the master's last file");
        assert_eq!(transfer_start(1234, 2500, fs), 1234);
    }

    #[test]
    fn frame_offset_rules() {
        assert!(check_frame_offset(500, Some(500), 1000).is_ok());
        assert!(matches!(check_frame_offset(501, Some(500), 1000), Err(HaError::Mismatch { expected: 500, got: 501 })));
        assert!(check_frame_offset(2000, None, 1000).is_ok());
        assert!(check_frame_offset(2001, None, 1000).is_err());
    }

    #[test]
    fn whole_records_stop_at_partial_records_and_blanks() {
        let fs = 1000;
        let mut buf = rec(100, MESSAGE_MAGIC_CODE);
        buf.extend(rec(50, MESSAGE_MAGIC_CODE));
        assert_eq!(whole_records(&buf, 0, fs, 600).unwrap(), 150);
        assert_eq!(whole_records(&buf[..120], 0, fs, 600).unwrap(), 100, "partial second record waits");
        assert_eq!(whole_records(&buf[..4], 0, fs, 600).unwrap(), 0);
        // A blank to the end of the segment, then the next segment's record.
        let mut buf = rec(100, BLANK_MAGIC_CODE);
        buf.extend(rec(50, MESSAGE_MAGIC_CODE));
        assert_eq!(whole_records(&buf, 900, fs, 600).unwrap(), 100);
        assert!(whole_records(&buf, 800, fs, 600).is_err(), "blank not ending the file");
        assert!(whole_records(&rec(200, MESSAGE_MAGIC_CODE)[..8], 900, fs, 600).is_err(), "record past the file end");
        assert!(whole_records(&rec(8, 0x1234)[..], 0, fs, 600).is_err(), "bad magic");
        let mut tiny = rec(8, MESSAGE_MAGIC_CODE);
        tiny[..4].copy_from_slice(&3i32.to_be_bytes());
        assert!(whole_records(&tiny, 0, fs, 600).is_err(), "size below the header");
    }
}
