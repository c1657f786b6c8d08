//! The one check for resource names from the wire. Topics and groups become
//! directory names (consume queues of `%RETRY%`/`%DLQ%` + group topics), file
//! contents and map keys, so every path that takes one from a peer checks it
//! here first, with the Java side's rules and remarks.

use super::ProtocolError;

/// `TopicValidator.TOPIC_MAX_LENGTH`.
pub const TOPIC_MAX_LENGTH: usize = 127;
/// `Validators.CHARACTER_MAX_LENGTH`, the client's bound on group names.
pub const GROUP_MAX_LENGTH: usize = 255;
/// A name the broker derives (`%RETRY%` + group) still has to be one file name.
pub const DERIVED_TOPIC_MAX_LENGTH: usize = 255;

const VALID_PATTERN: &str = "^[%|a-zA-Z0-9_-]+$";

/// `TopicValidator.isTopicOrGroupIllegal`: only `[%|a-zA-Z0-9_-]`. Neither
/// `.` nor `/` is allowed, so a valid name is always one safe path component.
pub fn has_illegal_characters(name: &str) -> bool {
    !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'%' || b == b'|' || b == b'_' || b == b'-')
}

/// `TopicValidator.validateTopic`, with its remarks.
pub fn check_topic(topic: &str) -> Result<(), ProtocolError> {
    check_topic_max(topic, TOPIC_MAX_LENGTH)
}

/// A topic a request refers to, or one the broker names itself from a group
/// (`%RETRY%g`, `%DLQ%g`): the character rule, and short enough to be a file
/// name. Java checks only sends and topic creation; reads of a retry topic
/// of a long group name must still pass.
pub fn check_derived_topic(topic: &str) -> Result<(), ProtocolError> {
    check_topic_max(topic, DERIVED_TOPIC_MAX_LENGTH)
}

fn check_topic_max(topic: &str, max: usize) -> Result<(), ProtocolError> {
    let remark = if topic.trim().is_empty() {
        "The specified topic is blank.".to_string()
    } else if has_illegal_characters(topic) {
        format!("The specified topic contains illegal characters, allowing only {VALID_PATTERN}")
    } else if topic.len() > max {
        "The specified topic is longer than topic max length.".to_string()
    } else {
        return Ok(());
    };
    Err(ProtocolError::InvalidName(remark))
}

/// `Validators.checkGroup`, with its remarks (the Java broker trusts the
/// client to have run it; this broker does not).
pub fn check_group(group: &str) -> Result<(), ProtocolError> {
    let remark = if group.trim().is_empty() {
        "the specified group is blank".to_string()
    } else if group.len() > GROUP_MAX_LENGTH {
        format!("the specified group is longer than group max length {GROUP_MAX_LENGTH}.")
    } else if has_illegal_characters(group) {
        format!("the specified group[{group}] contains illegal characters, allowing only {VALID_PATTERN}")
    } else {
        return Ok(());
    };
    Err(ProtocolError::InvalidName(remark))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn java_rules_and_remarks() {
        assert!(check_topic("Topic_A-1%x|y").is_ok());
        assert!(check_topic(&"a".repeat(127)).is_ok());
        for bad in ["", "  ", "bad topic", "a/b", "..", "%RETRY%/../../x", "a\0b", "ü"] {
            assert!(check_topic(bad).is_err(), "{bad:?}");
            assert!(check_group(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_topic(&"a".repeat(128)).unwrap_err().to_string(),
            "The specified topic is longer than topic max length."
        );
        assert!(check_derived_topic(&format!("%RETRY%{}", "g".repeat(248))).is_ok());
        assert!(check_group(&"g".repeat(255)).is_ok());
        assert_eq!(
            check_group("/../../tmp/X").unwrap_err().to_string(),
            "the specified group[/../../tmp/X] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        );
    }

    proptest! {
        /// Whatever passes is one path component that stays where it is put.
        #[test]
        fn a_valid_name_is_a_safe_file_name(s in "\\PC{0,300}") {
            if check_group(&s).is_ok() || check_derived_topic(&s).is_ok() {
                let p = std::path::Path::new("/store/consumequeue").join(&s);
                prop_assert_eq!(p.parent(), Some(std::path::Path::new("/store/consumequeue")));
                prop_assert!(s != "." && s != ".." && s.len() <= 255 && !s.contains('\0'));
            }
        }
    }
}
