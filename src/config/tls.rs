//! The TLS keys of a broker or name server, read as Java's `TlsSystemConfig`
//! and `TlsHelper.extractTlsConfigFromFile` read them: from the config file
//! under the names Java takes as system properties, then from
//! `tls.config.file`, whose values win except for `tls.server.mode` and
//! `tls.enable`. What they build (certificates, verifiers) is `remoting::tls`.

use std::path::PathBuf;

use super::Settings;
use crate::remoting::tls::*;

/// `Boolean.parseBoolean`: "true" in any case, else false.
fn java_bool(s: &str) -> bool {
    s.trim().eq_ignore_ascii_case("true")
}

fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Reads the keys from `s` (the broker or namesrv settings), then from
/// the file named by `tls.config.file`, as Java does.
pub fn tls_settings(s: &Settings) -> Result<TlsSettings, TlsError> {
    let mode = TlsMode::parse(s.get(TLS_SERVER_MODE).unwrap_or("permissive").trim());
    let mut t = TlsSettings {
        mode,
        enable: match s.get(TLS_ENABLE) {
            Some(v) => java_bool(v),
            None => mode == TlsMode::Enforcing,
        },
        config_file: PathBuf::from(
            non_empty(s.get(TLS_CONFIG_FILE)).unwrap_or_else(|| DEFAULT_TLS_CONFIG_FILE.into()),
        ),
        test_mode: s.get(TLS_TEST_MODE_ENABLE).map(java_bool).unwrap_or(true),
        server_need_client_auth: ClientAuth::parse(s.get(TLS_SERVER_NEED_CLIENT_AUTH).unwrap_or("none")),
        server_key_path: non_empty(s.get(TLS_SERVER_KEYPATH)).map(PathBuf::from),
        server_key_password: non_empty(s.get(TLS_SERVER_KEYPASSWORD)),
        server_cert_path: non_empty(s.get(TLS_SERVER_CERTPATH)).map(PathBuf::from),
        server_auth_client: s.get(TLS_SERVER_AUTHCLIENT).map(java_bool).unwrap_or(false),
        server_trust_cert_path: non_empty(s.get(TLS_SERVER_TRUSTCERTPATH)).map(PathBuf::from),
        client_key_path: non_empty(s.get(TLS_CLIENT_KEYPATH)).map(PathBuf::from),
        client_key_password: non_empty(s.get(TLS_CLIENT_KEYPASSWORD)),
        client_cert_path: non_empty(s.get(TLS_CLIENT_CERTPATH)).map(PathBuf::from),
        client_auth_server: s.get(TLS_CLIENT_AUTHSERVER).map(java_bool).unwrap_or(false),
        client_trust_cert_path: non_empty(s.get(TLS_CLIENT_TRUSTCERTPATH)).map(PathBuf::from),
    };
    apply_config_file(&mut t)?;
    Ok(t)
}

/// `TlsHelper.extractTlsConfigFromFile`: a file that is missing or not
/// readable is skipped; its values override all but the mode and
/// `tls.enable`.
fn apply_config_file(t: &mut TlsSettings) -> Result<(), TlsError> {
    let path = t.config_file.clone();
    if !path.is_file() {
        tracing::debug!(file = %path.display(), "TLS config file doesn't exist, skip it");
        return Ok(());
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(file = %path.display(), "TLS config file not readable, skip it: {e}");
            return Ok(());
        }
    };
    let pairs = super::try_parse_properties(&text)
        .map_err(|e| TlsError::ConfigFile(path.clone(), e.to_string()))?;
    let mut file = Settings::default();
    file.apply(pairs);
    let path_of = |k: &str, old: &mut Option<PathBuf>| {
        if let Some(v) = file.get(k) {
            *old = non_empty(Some(v)).map(PathBuf::from);
        }
    };
    path_of(TLS_SERVER_KEYPATH, &mut t.server_key_path);
    path_of(TLS_SERVER_CERTPATH, &mut t.server_cert_path);
    path_of(TLS_SERVER_TRUSTCERTPATH, &mut t.server_trust_cert_path);
    path_of(TLS_CLIENT_KEYPATH, &mut t.client_key_path);
    path_of(TLS_CLIENT_CERTPATH, &mut t.client_cert_path);
    path_of(TLS_CLIENT_TRUSTCERTPATH, &mut t.client_trust_cert_path);
    if let Some(v) = file.get(TLS_SERVER_KEYPASSWORD) {
        t.server_key_password = non_empty(Some(v));
    }
    if let Some(v) = file.get(TLS_CLIENT_KEYPASSWORD) {
        t.client_key_password = non_empty(Some(v));
    }
    if let Some(v) = file.get(TLS_TEST_MODE_ENABLE) {
        t.test_mode = java_bool(v);
    }
    if let Some(v) = file.get(TLS_SERVER_NEED_CLIENT_AUTH) {
        t.server_need_client_auth = ClientAuth::parse(v);
    }
    if let Some(v) = file.get(TLS_SERVER_AUTHCLIENT) {
        t.server_auth_client = java_bool(v);
    }
    if let Some(v) = file.get(TLS_CLIENT_AUTHSERVER) {
        t.client_auth_server = java_bool(v);
    }
    tracing::info!(file = %path.display(), "TLS settings read from the TLS config file");
    Ok(())
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::default();
        s.apply(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        s
    }

    #[test]
    fn defaults_and_outbound_default_follow_the_mode() {
        let none = "/nonexistent/tls.properties";
        let t = tls_settings(&settings(&[(TLS_CONFIG_FILE, none)])).unwrap();
        assert_eq!(t.mode, TlsMode::Permissive);
        assert!(t.test_mode && !t.enable);
        let t =
            tls_settings(&settings(&[(TLS_CONFIG_FILE, none), (TLS_SERVER_MODE, "enforcing")])).unwrap();
        assert!(t.enable);
        let t = tls_settings(&settings(&[
            (TLS_CONFIG_FILE, none),
            (TLS_SERVER_MODE, "enforcing"),
            (TLS_ENABLE, "false"),
        ]))
        .unwrap();
        assert!(!t.enable);
    }

    #[test]
    fn the_tls_config_file_wins_except_for_mode_and_enable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tls.properties");
        std::fs::write(
            &file,
            "tls.server.mode=disabled\ntls.enable=true\ntls.test.mode.enable=false\ntls.server.certPath=/f/cert.pem\n\
             tls.server.need.client.auth=require\n",
        )
        .unwrap();
        let t = tls_settings(&settings(&[
            (TLS_CONFIG_FILE, file.to_str().unwrap()),
            (TLS_SERVER_CERTPATH, "/conf/cert.pem"),
            (TLS_SERVER_KEYPATH, "/conf/key.pem"),
        ]))
        .unwrap();
        assert_eq!(t.mode, TlsMode::Permissive);
        assert!(!t.enable && !t.test_mode);
        assert_eq!(t.server_cert_path.as_deref(), Some(Path::new("/f/cert.pem")));
        assert_eq!(t.server_key_path.as_deref(), Some(Path::new("/conf/key.pem")));
        assert_eq!(t.server_need_client_auth, ClientAuth::Require);
    }

    #[test]
    fn test_mode_makes_a_self_signed_server_and_missing_files_are_named() {
        let s = settings(&[(TLS_CONFIG_FILE, "/nonexistent")]);
        assert!(tls_settings(&s).unwrap().server().unwrap().is_some());
        let s = settings(&[(TLS_CONFIG_FILE, "/nonexistent"), (TLS_SERVER_MODE, "disabled")]);
        assert!(tls_settings(&s).unwrap().server().unwrap().is_none());
        let s = settings(&[(TLS_CONFIG_FILE, "/nonexistent"), (TLS_TEST_MODE_ENABLE, "false")]);
        let e = tls_settings(&s).unwrap().server().err().unwrap().to_string();
        assert!(e.contains(TLS_SERVER_CERTPATH), "{e}");
        let s = settings(&[
            (TLS_CONFIG_FILE, "/nonexistent"),
            (TLS_SERVER_CERTPATH, "/nonexistent/cert.pem"),
            (TLS_SERVER_KEYPATH, "/nonexistent/key.pem"),
        ]);
        let e = tls_settings(&s).unwrap().server().err().unwrap().to_string();
        assert!(e.contains("tls.server.certPath: cannot read /nonexistent/cert.pem"), "{e}");
    }
}
