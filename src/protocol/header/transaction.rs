//! Transactions: the producer's END_TRANSACTION and the broker's
//! CHECK_TRANSACTION_STATE.

header! {
    /// END_TRANSACTION (37): `EndTransactionRequestHeader`. Java requires
    /// `msgId`; the handler never reads it, so it stays optional here.
    pub struct EndTransactionRequestHeader {
        pub producer_group: String = group("producerGroup"),
        pub tran_state_table_offset: i64 = i64("tranStateTableOffset"),
        pub commit_log_offset: i64 = i64("commitLogOffset"),
        /// `MessageSysFlag.TRANSACTION_*_TYPE`.
        pub commit_or_rollback: i32 = i32("commitOrRollback"),
        pub from_transaction_check: bool = flag("fromTransactionCheck"),
        pub msg_id: Option<String> = opt_str("msgId"),
        pub transaction_id: Option<String> = opt_str("transactionId"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(EndTransactionRequestHeader, group = producer_group);

header! {
    /// CHECK_TRANSACTION_STATE (39), broker to producer, oneway:
    /// `CheckTransactionStateRequestHeader`.
    pub struct CheckTransactionStateRequestHeader {
        pub tran_state_table_offset: i64 = i64("tranStateTableOffset"),
        pub commit_log_offset: i64 = i64("commitLogOffset"),
        pub msg_id: Option<String> = opt_str("msgId"),
        pub transaction_id: Option<String> = opt_str("transactionId"),
        pub offset_msg_id: Option<String> = opt_str("offsetMsgId"),
        pub bname: Option<String> = opt_str("bname"),
    }
}
resources!(CheckTransactionStateRequestHeader);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::testing::check;
    use crate::protocol::header::Resources;
    use crate::remoting::codes::request as rc;

    #[test]
    fn requests() {
        let h = EndTransactionRequestHeader {
            producer_group: "PG".into(),
            tran_state_table_offset: 5,
            commit_log_offset: 4096,
            commit_or_rollback: 8,
            from_transaction_check: true,
            msg_id: Some("m".into()),
            transaction_id: Some("t".into()),
            bname: Some("broker-a".into()),
        };
        check(rc::END_TRANSACTION, &h, EndTransactionRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (None, Some("PG")));
        let h = CheckTransactionStateRequestHeader {
            tran_state_table_offset: 5,
            commit_log_offset: 4096,
            msg_id: Some("m".into()),
            transaction_id: Some("t".into()),
            offset_msg_id: Some("o".into()),
            bname: Some("broker-a".into()),
        };
        check(rc::CHECK_TRANSACTION_STATE, &h, CheckTransactionStateRequestHeader::FIELDS);
        assert_eq!((h.topic(), h.group()), (None, None));
    }
}
