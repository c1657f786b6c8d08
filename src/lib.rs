//! ferromq: a broker and name server that speak Apache RocketMQ 4.x's
//! remoting protocol.

pub mod remoting;
pub mod protocol;
pub mod store;
pub mod acl;
pub mod config;
pub mod metrics;
pub mod namesrv;
pub mod broker;
pub mod client;
pub mod bench;
