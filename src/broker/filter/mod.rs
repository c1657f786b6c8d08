//! Message filters applied by pulls: tag hashes on the consume queue, SQL92
//! on message properties (`ExpressionMessageFilter`).

pub mod sql;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use crate::protocol::heartbeat::SubscriptionData;
use crate::protocol::message::MessageExt;
use crate::store::MessageMatcher;

pub struct MessageFilter {
    sub: SubscriptionData,
    sql: Option<Arc<sql::Expr>>,
}

/// Compiled SQL92 expressions by their text: a pull carries or refers to its
/// subscription's expression every time, and compiling it on each pull
/// costs more than the filtering. Bounded: cleared when full.
static COMPILED: LazyLock<Mutex<HashMap<String, Arc<sql::Expr>>>> = LazyLock::new(Mutex::default);
const MAX_COMPILED: usize = 4096;

fn compile_cached(text: &str) -> Result<Arc<sql::Expr>, sql::SqlError> {
    if let Some(e) = COMPILED.lock().unwrap().get(text) {
        return Ok(e.clone());
    }
    // Compile outside the lock; a race compiles twice, harmlessly.
    let expr = Arc::new(sql::compile(text)?);
    let mut cache = COMPILED.lock().unwrap();
    if cache.len() >= MAX_COMPILED {
        cache.clear();
    }
    cache.insert(text.to_string(), expr.clone());
    Ok(expr)
}

impl MessageFilter {
    pub fn new(sub: SubscriptionData) -> Result<Self, sql::SqlError> {
        let sql = if sub.expression_type == "SQL92" { Some(compile_cached(&sub.sub_string)?) } else { None };
        Ok(MessageFilter { sub, sql })
    }
}

impl MessageMatcher for MessageFilter {
    fn by_tags_code(&self, tags_code: i64) -> bool {
        self.sql.is_some() || self.sub.matches_tags_code(tags_code)
    }

    /// SQL filters look at the stored message's properties.
    fn by_record(&self, record: &[u8]) -> bool {
        let Some(expr) = &self.sql else { return true };
        match MessageExt::decode(record) {
            Ok(m) => sql::matches(expr, &|k| m.properties.get(k).map(str::to_string)),
            Err(_) => false,
        }
    }
}
