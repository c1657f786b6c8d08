//! The one error type of access control: refusals of a request (worded as
//! the Java `PlainPermissionManager` words them, since clients and operators
//! see these texts) and problems with the ACL files or admin input.

/// Where the Java broker raises each refusal: its response remark is
/// `exceptionSimpleDesc(e)`, the exception then its first stack frame.
const VALIDATE: &str = "org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java";
const CHECK_PERM: &str = "org.apache.rocketmq.acl.plain.PlainPermissionManager.checkPerm(PlainPermissionManager.java";
const PARSE: &str = "org.apache.rocketmq.acl.plain.PlainAccessValidator.parse(PlainAccessValidator.java";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("No accessKey is configured")]
    NoAccessKey,
    #[error("No acl config for {0}")]
    UnknownAccessKey(String),
    #[error("Check signature failed for accessKey={0}")]
    BadSignature(String),
    #[error("Need admin permission for request code={code}, but accessKey={access_key} is not")]
    NeedAdmin { code: i32, access_key: String },
    /// `printStr` of the resource (`topic:T` or `group:G`); `listed`: the
    /// account names the resource (Java raises the same text at another line).
    #[error("No default permission for {resource}")]
    NoPermission { resource: String, listed: bool },
    /// The request's header or body could not be read to find its resources.
    #[error("{0}")]
    BadRequest(String),
    /// Name-server ACL (beyond Java): a write request from a non-admin.
    #[error("Need admin permission for name server request code={code}, but accessKey={access_key} is not")]
    NamesrvNeedAdmin { code: i32, access_key: String },

    /// An ACL file or admin request that cannot be used (the text says why).
    #[error("{0}")]
    Config(String),
    #[error("cannot read or write ACL file {path}: {why}")]
    Io { path: String, why: String },
}

impl AclError {
    /// The Java frame that raises this refusal (line numbers of 4.9.7).
    fn java_frame(&self) -> Option<String> {
        let (at, line) = match self {
            AclError::NoAccessKey => (VALIDATE, 663),
            AclError::UnknownAccessKey(_) => (VALIDATE, 667),
            AclError::BadSignature(_) => (VALIDATE, 683),
            AclError::NeedAdmin { .. } => (CHECK_PERM, 580),
            AclError::NoPermission { listed: false, .. } => (CHECK_PERM, 605),
            AclError::NoPermission { listed: true, .. } => (CHECK_PERM, 610),
            AclError::BadRequest(_) => (PARSE, 134),
            _ => return None,
        };
        Some(format!("{at}:{line})"))
    }

    /// The remark of the SYSTEM_ERROR response a refused request gets, as
    /// the Java broker's `RemotingHelper.exceptionSimpleDesc` writes it.
    pub fn remark(&self) -> String {
        match self.java_frame() {
            Some(frame) => format!("org.apache.rocketmq.acl.common.AclException: {self}, {frame}"),
            None => format!("org.apache.rocketmq.acl.common.AclException: {self}"),
        }
    }
}

pub type AclResult<T> = Result<T, AclError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remarks_read_as_the_java_broker_writes_them() {
        assert_eq!(
            AclError::BadSignature("rocketmq2".into()).remark(),
            "org.apache.rocketmq.acl.common.AclException: Check signature failed for accessKey=rocketmq2, \
             org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:683)"
        );
    }
}
