//! Permission bits and their checks (`org.apache.rocketmq.acl.common.Permission`).

use super::error::{AclError, AclResult};
use crate::remoting::codes::request as rc;

pub const DENY: u8 = 1;
pub const ANY: u8 = 1 << 1;
pub const PUB: u8 = 1 << 2;
pub const SUB: u8 = 1 << 3;

/// The only codes the Java broker keeps for admin accounts (4.9.7's
/// `Permission.ADMIN_CODE`; the ACL admin codes 50–54 are not among them).
pub fn needs_admin(code: i32) -> bool {
    matches!(
        code,
        rc::UPDATE_AND_CREATE_TOPIC
            | rc::UPDATE_BROKER_CONFIG
            | rc::DELETE_TOPIC_IN_BROKER
            | rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
            | rc::DELETE_SUBSCRIPTIONGROUP
    )
}

/// `Permission.checkPermission`: DENY wins; ANY asks for PUB or SUB.
pub fn check(needed: u8, owned: u8) -> bool {
    if owned & DENY != 0 {
        return false;
    }
    if needed & ANY != 0 {
        return owned & (PUB | SUB) != 0;
    }
    needed & owned != 0
}

/// `Permission.parsePermFromString`: anything unknown (or absent) is DENY.
pub fn parse(s: Option<&str>) -> u8 {
    match s.map(str::trim) {
        Some("PUB") => PUB,
        Some("SUB") => SUB,
        Some("PUB|SUB") | Some("SUB|PUB") => PUB | SUB,
        _ => DENY,
    }
}

/// `StringUtils.split(s, "=")`: the non-empty pieces between separators.
fn split_eq(s: &str) -> Vec<&str> {
    s.split('=').filter(|p| !p.is_empty()).collect()
}

/// One `name=PERM` entry of `topicPerms` / `groupPerms` (`Permission.parseResourcePerms`).
pub fn parse_resource(entry: &str, is_topic: bool) -> AclResult<(String, u8)> {
    match split_eq(entry)[..] {
        [name, perm] => Ok((name.trim().to_string(), parse(Some(perm.trim())))),
        _ => Err(AclError::Config(format!(
            "Parse resource permission failed for {}:{}",
            if is_topic { "topic" } else { "group" },
            entry
        ))),
    }
}

/// `Permission.checkResourcePerms`: what an admin request may write.
pub fn check_resource_entries(entries: &[String]) -> AclResult<()> {
    for e in entries {
        let items = split_eq(e);
        if items.len() != 2 {
            return Err(AclError::Config(format!(
                "Parse Resource format error for {e}.\nThe expected resource format is 'Res=Perm'. For example: topicA=SUB"
            )));
        }
        if items[1].trim() != "DENY" && parse(Some(items[1].trim())) == DENY {
            return Err(AclError::Config(format!(
                "Parse resource permission error for {e}.\nThe expected permissions are 'SUB' or 'PUB' or 'SUB|PUB' or 'PUB|SUB'."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_matrix_matches_java() {
        // (needed, owned, allowed)
        let cases = [
            (PUB, PUB, true),
            (PUB, SUB, false),
            (SUB, PUB | SUB, true),
            (PUB, PUB | SUB, true),
            (SUB, DENY, false),
            (PUB, DENY | PUB, false),
            (ANY, PUB, true),
            (ANY, SUB, true),
            (ANY, DENY, false),
            (ANY, 0, false),
            (SUB, 0, false),
        ];
        for (needed, owned, allowed) in cases {
            assert_eq!(check(needed, owned), allowed, "needed {needed} owned {owned}");
        }
    }

    #[test]
    fn perm_strings_parse_like_java() {
        assert_eq!(parse(Some(" PUB ")), PUB);
        assert_eq!(parse(Some("SUB|PUB")), PUB | SUB);
        assert_eq!(parse(Some("pub")), DENY);
        assert_eq!(parse(None), DENY);
        assert_eq!(parse_resource("topicA = SUB", true).unwrap(), ("topicA".into(), SUB));
        assert_eq!(parse_resource("==a=PUB", true).unwrap(), ("a".into(), PUB));
        assert!(parse_resource("topicA", true).is_err());
        assert!(parse_resource("a=b=c", false).is_err());
        assert!(check_resource_entries(&["t=DENY".into(), "u=PUB|SUB".into()]).is_ok());
        assert!(check_resource_entries(&["t=ALL".into()]).is_err());
        assert!(needs_admin(17) && !needs_admin(50) && !needs_admin(10));
    }
}
