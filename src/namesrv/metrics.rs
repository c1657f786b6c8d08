//! The name server's Prometheus metrics: what it holds against each of its
//! bounds (`namesrvMax*`), so an operator can alert before registrations or
//! key/values start being refused. Read from its state at scrape time.

use std::sync::{Arc, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::Namesrv;
use crate::metrics::gauge;

pub struct NamesrvCollector {
    namesrv: Weak<Namesrv>,
}

impl NamesrvCollector {
    pub fn new(namesrv: &Arc<Namesrv>) -> Self {
        NamesrvCollector { namesrv: Arc::downgrade(namesrv) }
    }
}

impl std::fmt::Debug for NamesrvCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamesrvCollector")
    }
}

impl Collector for NamesrvCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let Some(n) = self.namesrv.upgrade() else { return Ok(()) };
        let (routes, (kv_entries, kv_bytes)) = n.usage();
        let limits = n.config().namesrv_limits;
        let rows: [(&str, &str, usize, usize); 4] = [
            ("brokers", "Live broker addresses registered (bound: namesrvMaxBrokers)", routes.brokers, limits.max_brokers),
            ("topic_routes", "(topic, broker name) routes (bound: namesrvMaxTopicRoutes)", routes.topic_routes, limits.max_topic_routes),
            ("kv_configs", "Key/values over all namespaces (bound: namesrvMaxKvConfigs)", kv_entries, limits.max_kv_configs),
            ("kv_config_bytes", "Bytes of namespaces, keys and values (bound: namesrvMaxKvConfigBytes)", kv_bytes, limits.max_kv_config_bytes),
        ];
        for (name, help, now, max) in rows {
            gauge(&mut enc, &format!("ferromq_namesrv_{name}"), help, &[(vec![], now as f64)])?;
            gauge(&mut enc, &format!("ferromq_namesrv_{name}_max"), "The bound itself", &[(vec![], max as f64)])?;
        }
        gauge(&mut enc, "ferromq_namesrv_topics", "Topics with a route", &[(vec![], routes.topics as f64)])?;
        gauge(&mut enc, "ferromq_namesrv_clusters", "Clusters with a registered broker", &[(vec![], routes.clusters as f64)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{namesrv_defaults, NamesrvConfig};
    use crate::metrics::render;
    use prometheus_client::registry::Registry;

    #[test]
    fn usage_and_bounds_are_read_at_scrape_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = namesrv_defaults();
        s.apply([
            ("kvConfigPath".to_string(), dir.path().join("kv.json").display().to_string()),
            ("namesrvMaxKvConfigs".to_string(), "7".to_string()),
        ]);
        let n = Namesrv::new(NamesrvConfig::from_settings(s).unwrap());
        let mut r = Registry::default();
        r.register_collector(Box::new(NamesrvCollector::new(&n)));
        assert!(render(&r).contains("ferromq_namesrv_kv_configs 0.0\n"), "{}", render(&r));
        n.kv.put("NS", "k", "v").unwrap();
        let text = render(&r);
        assert!(text.contains("ferromq_namesrv_kv_configs 1.0\n"), "{text}");
        assert!(text.contains("ferromq_namesrv_kv_configs_max 7.0\n"), "{text}");
        assert!(text.contains("ferromq_namesrv_kv_config_bytes 4.0\n"), "{text}");
        assert!(text.contains("ferromq_namesrv_brokers 0.0\n"), "{text}");
        assert!(text.contains("ferromq_namesrv_brokers_max 4096.0\n"), "{text}");
        drop(n);
        assert!(!render(&r).contains("ferromq_namesrv"), "a collector outliving its name server writes nothing");
    }
}
