//! Message filters applied by pulls: tag hashes on the consume queue, SQL92
//! on message properties (`ExpressionMessageFilter`).

pub mod sql;

use crate::protocol::heartbeat::SubscriptionData;
use crate::protocol::message::MessageExt;
use crate::store::MessageMatcher;

pub struct MessageFilter {
    sub: SubscriptionData,
    sql: Option<sql::Expr>,
}

impl MessageFilter {
    pub fn new(sub: SubscriptionData) -> Result<Self, sql::SqlError> {
        let sql = if sub.expression_type == "SQL92" { Some(sql::compile(&sub.sub_string)?) } else { None };
        Ok(MessageFilter { sub, sql })
    }

    pub fn is_sql(&self) -> bool {
        self.sql.is_some()
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
