//! Custom headers: typed views of a command's `extFields`.
//!
//! One struct per Java `*RequestHeader` / `*ResponseHeader` class that the
//! broker or name server reads or writes (RocketMQ 4.9.7,
//! `org.apache.rocketmq.common.protocol.header[.namesrv]`), with the Java
//! field names as ext-field keys. Each implements [`CommandHeader`]
//! (decode/encode) and, for requests, [`Resources`] (the topic and group
//! the request touches). Families live in one file each and are all
//! re-exported here.

use super::ProtocolError;
use crate::remoting::command::ExtFields;
use crate::remoting::RemotingCommand;

/// Typed access to `extFields`, with the Java side's error wording.
pub struct Ext<'a>(pub &'a ExtFields);

impl<'a> Ext<'a> {
    pub fn of(cmd: &'a RemotingCommand) -> Self {
        Ext(&cmd.ext_fields)
    }

    pub fn opt_str(&self, k: &'static str) -> Option<&'a str> {
        self.0.get(k).map(String::as_str)
    }

    pub fn str(&self, k: &'static str) -> Result<&'a str, ProtocolError> {
        self.opt_str(k).ok_or(ProtocolError::MissingField(k))
    }

    fn parse<T: std::str::FromStr>(&self, k: &'static str) -> Result<Option<T>, ProtocolError> {
        match self.opt_str(k) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| ProtocolError::BadField(k, v.to_string())),
        }
    }

    pub fn opt_i32(&self, k: &'static str) -> Result<Option<i32>, ProtocolError> {
        self.parse(k)
    }

    pub fn i32(&self, k: &'static str) -> Result<i32, ProtocolError> {
        self.opt_i32(k)?.ok_or(ProtocolError::MissingField(k))
    }

    pub fn opt_i64(&self, k: &'static str) -> Result<Option<i64>, ProtocolError> {
        self.parse(k)
    }

    pub fn i64(&self, k: &'static str) -> Result<i64, ProtocolError> {
        self.opt_i64(k)?.ok_or(ProtocolError::MissingField(k))
    }

    /// A topic name the request refers to, checked by `names::check_derived_topic`.
    pub fn topic(&self, k: &'static str) -> Result<&'a str, ProtocolError> {
        let t = self.str(k)?;
        super::names::check_derived_topic(t)?;
        Ok(t)
    }

    /// A group name, checked by `names::check_group`.
    pub fn group(&self, k: &'static str) -> Result<&'a str, ProtocolError> {
        let g = self.str(k)?;
        super::names::check_group(g)?;
        Ok(g)
    }

    pub fn opt_group(&self, k: &'static str) -> Result<Option<&'a str>, ProtocolError> {
        self.opt_str(k).map(|g| super::names::check_group(g).map(|_| g)).transpose()
    }

    pub fn bool_or(&self, k: &'static str, default: bool) -> bool {
        self.opt_str(k).map_or(default, |v| v.eq_ignore_ascii_case("true"))
    }
}

/// A custom header: read from a command's `extFields`, written into them.
pub trait CommandHeader: Sized {
    /// Reads and checks every field; a missing required field is
    /// `MissingField`, a number that does not parse `BadField`, a bad topic
    /// or group name `InvalidName` (the Java side's wording).
    fn decode(cmd: &RemotingCommand) -> Result<Self, ProtocolError>;
    /// Adds this header's fields to `cmd` (absent options are left out).
    fn encode(&self, cmd: RemotingCommand) -> RemotingCommand;
}

/// The topic and group a request touches (what ACL checks).
pub trait Resources {
    fn topic(&self) -> Option<&str> {
        None
    }
    fn group(&self) -> Option<&str> {
        None
    }
    /// Every group the request touches, `group()` first (more than one for
    /// UNREGISTER_CLIENT and CLONE_GROUP_OFFSET).
    fn groups(&self) -> Vec<&str> {
        self.group().into_iter().collect()
    }
}

/// One ext field of a header: its key and how it is read (the name of the
/// `field` function: `str`, `topic`, `group`, `i32`, `i64` are required;
/// `opt_*`, `flag`, `is_true`, `*_or` are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub key: &'static str,
    pub kind: &'static str,
}

impl FieldSpec {
    pub fn required(&self) -> bool {
        matches!(self.kind, "str" | "topic" | "group" | "i32" | "i64")
    }
    pub fn numeric(&self) -> bool {
        matches!(self.kind, "i32" | "i64" | "opt_i32" | "opt_i64" | "i32_or")
    }
}

/// A value written as one ext field.
pub trait ExtValue {
    fn put(&self, cmd: RemotingCommand, key: &str) -> RemotingCommand;
}

macro_rules! ext_value_to_string {
    ($($t:ty),*) => {$(
        impl ExtValue for $t {
            fn put(&self, cmd: RemotingCommand, key: &str) -> RemotingCommand {
                cmd.with_ext(key, self)
            }
        }
    )*};
}
ext_value_to_string!(String, i32, i64, bool);

impl<T: ExtValue> ExtValue for Option<T> {
    fn put(&self, cmd: RemotingCommand, key: &str) -> RemotingCommand {
        match self {
            Some(v) => v.put(cmd, key),
            None => cmd,
        }
    }
}

/// A name field, required or not, as an `Option<&str>` for [`Resources`].
pub trait AsOptStr {
    fn as_opt_str(&self) -> Option<&str>;
}
impl AsOptStr for String {
    fn as_opt_str(&self) -> Option<&str> {
        Some(self)
    }
}
impl AsOptStr for Option<String> {
    fn as_opt_str(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// How a field is read: each function is one `Ext` accessor, owned.
mod field {
    use super::{Ext, ProtocolError};
    type R<T> = Result<T, ProtocolError>;

    pub fn str(e: &Ext, k: &'static str) -> R<String> {
        e.str(k).map(|s| s.to_owned())
    }
    /// Checked by `names::check_derived_topic`.
    pub fn topic(e: &Ext, k: &'static str) -> R<String> {
        e.topic(k).map(|s| s.to_owned())
    }
    /// Checked by `names::check_group`.
    pub fn group(e: &Ext, k: &'static str) -> R<String> {
        e.group(k).map(|s| s.to_owned())
    }
    pub fn opt_str(e: &Ext, k: &'static str) -> R<Option<String>> {
        Ok(e.opt_str(k).map(|s| s.to_owned()))
    }
    pub fn opt_group(e: &Ext, k: &'static str) -> R<Option<String>> {
        e.opt_group(k).map(|g| g.map(|s| s.to_owned()))
    }
    pub fn str_or(e: &Ext, k: &'static str, default: &str) -> R<String> {
        Ok(e.opt_str(k).unwrap_or(default).to_owned())
    }
    pub fn i32(e: &Ext, k: &'static str) -> R<i32> {
        e.i32(k)
    }
    pub fn i64(e: &Ext, k: &'static str) -> R<i64> {
        e.i64(k)
    }
    pub fn opt_i32(e: &Ext, k: &'static str) -> R<Option<i32>> {
        e.opt_i32(k)
    }
    pub fn opt_i64(e: &Ext, k: &'static str) -> R<Option<i64>> {
        e.opt_i64(k)
    }
    pub fn i32_or(e: &Ext, k: &'static str, default: i32) -> R<i32> {
        Ok(e.opt_i32(k)?.unwrap_or(default))
    }
    /// `"true"` in any case is true; absent or anything else is false.
    pub fn flag(e: &Ext, k: &'static str) -> R<bool> {
        Ok(e.bool_or(k, false))
    }
    /// Exactly `"true"` is true (a marker field, e.g. `_UNIQUE_KEY_QUERY`).
    pub fn is_true(e: &Ext, k: &'static str) -> R<bool> {
        Ok(e.opt_str(k) == Some("true"))
    }
}

/// Declares a header struct with `CommandHeader` and `FIELDS`; each field is
/// `pub name: Type = kind("javaKey" [, default])`, read in declaration order
/// (so the first missing field named is the one the handler read first).
macro_rules! header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty = $kind:ident($key:literal $(, $def:expr)?) ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// The ext-field keys, in decode order.
            pub const FIELDS: &'static [$crate::protocol::header::FieldSpec] = &[
                $( $crate::protocol::header::FieldSpec { key: $key, kind: stringify!($kind) }, )*
            ];
        }

        impl $crate::protocol::header::CommandHeader for $name {
            fn decode(cmd: &$crate::remoting::RemotingCommand) -> Result<Self, $crate::protocol::ProtocolError> {
                #[allow(unused_variables)]
                let e = $crate::protocol::header::Ext::of(cmd);
                Ok($name { $( $field: $crate::protocol::header::field::$kind(&e, $key $(, $def)?)?, )* })
            }

            #[allow(unused_mut)]
            fn encode(&self, mut cmd: $crate::remoting::RemotingCommand) -> $crate::remoting::RemotingCommand {
                $( cmd = $crate::protocol::header::ExtValue::put(&self.$field, cmd, $key); )*
                cmd
            }
        }
    };
}

/// `impl Resources`: `resources!(Name, topic = field, group = field)`, either optional.
macro_rules! resources {
    ($name:ident $(, topic = $t:ident)? $(, group = $g:ident)?) => {
        impl $crate::protocol::header::Resources for $name {
            $(
                fn topic(&self) -> Option<&str> {
                    $crate::protocol::header::AsOptStr::as_opt_str(&self.$t)
                }
            )?
            $(
                fn group(&self) -> Option<&str> {
                    $crate::protocol::header::AsOptStr::as_opt_str(&self.$g)
                }
            )?
        }
    };
}

/// For codes whose request has no custom header (HEART_BEAT,
/// GET_ALL_TOPIC_CONFIG, LOCK_BATCH_MQ, ...: everything is in the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmptyHeader;

impl CommandHeader for EmptyHeader {
    fn decode(_: &RemotingCommand) -> Result<Self, ProtocolError> {
        Ok(EmptyHeader)
    }
    fn encode(&self, cmd: RemotingCommand) -> RemotingCommand {
        cmd
    }
}
impl Resources for EmptyHeader {}

mod acl;
mod admin;
mod consumer;
mod group;
mod namesrv;
mod offset;
mod pull;
mod query;
mod send;
mod topic;
mod transaction;

pub use acl::*;
pub use admin::*;
pub use consumer::*;
pub use group::*;
pub use namesrv::*;
pub use offset::*;
pub use pull::*;
pub use query::*;
pub use send::*;
pub use topic::*;
pub use transaction::*;

#[cfg(test)]
pub(crate) mod testing;
