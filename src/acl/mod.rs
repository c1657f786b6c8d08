//! Access control (ACL 1.0) as Apache RocketMQ 4.9.7's `PlainAccessValidator`
//! does it: accounts and white lists from `plain_acl.yml` (plus
//! `conf/acl/*.yml`), HMAC-SHA1 request signatures, per-code resource
//! permissions. Shared by the broker (Java's rules) and the name server
//! (ferromq's own: signed admin writes only, see `namesrv`).

pub mod address;
pub mod admin;
pub mod config;
pub mod error;
pub mod manager;
pub mod perm;
pub mod resource;
pub mod sign;

pub use error::{AclError, AclResult};
pub use manager::{AclManager, AclPaths, Rules};
pub use resource::AccessRequest;
