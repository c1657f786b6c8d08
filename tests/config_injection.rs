//! Config-file injection through UPDATE_BROKER_CONFIG, against a real
//! ferromq: values that would break out of their line in the `-c` file are
//! refused or escaped, the file keeps its other lines, reads back the same in
//! ferromq and in `java.util.Properties`, and a restarted broker sees what
//! was set.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::raw::roundtrip;
use common::{broker_port, write_conf, Server};
use ferromq::config::{store_line, try_parse_properties};
use ferromq::remoting::RemotingCommand;

const UPDATE_BROKER_CONFIG: i32 = 25;
const GET_BROKER_CONFIG: i32 = 26;
const SUCCESS: i32 = 0;
const SYSTEM_ERROR: i32 = 1;

fn update(addr: &str, body: &str) -> RemotingCommand {
    roundtrip(addr, &RemotingCommand::request(UPDATE_BROKER_CONFIG, 1).with_body(body.as_bytes().to_vec()))
}

/// GET_BROKER_CONFIG's `key=value` lines (printed raw, as the Java broker's
/// `MixAll.properties2String` prints them).
fn live_config(addr: &str) -> BTreeMap<String, String> {
    let r = roundtrip(addr, &RemotingCommand::request(GET_BROKER_CONFIG, 2));
    assert_eq!(r.code, SUCCESS);
    let body = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    body.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ferromq_map(text: &str) -> BTreeMap<String, String> {
    try_parse_properties(text).unwrap().into_iter().collect()
}

const JAVA_LOADER: &str = r#"
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class LoadProps {
    static String hex(String s) {
        StringBuilder b = new StringBuilder("x");
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) b.append(String.format("%02x", c & 0xff));
        return b.toString();
    }
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        if (args[1].equals("stream")) {
            // As BrokerStartup loads its -c file: an ISO-8859-1 InputStream.
            try (InputStream in = new BufferedInputStream(new FileInputStream(args[0]))) { p.load(in); }
        } else {
            try (Reader in = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) { p.load(in); }
        }
        for (String k : p.stringPropertyNames()) System.out.println(hex(k) + " " + hex(p.getProperty(k)));
    }
}
"#;

fn unhex(s: &str) -> String {
    let s = s.strip_prefix('x').unwrap();
    let bytes: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
    String::from_utf8(bytes).unwrap()
}

fn java_available() -> bool {
    Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success())
}

/// The file as `java.util.Properties.load` reads it, by `InputStream` (as
/// the Java broker reads its `-c` file) and by UTF-8 `Reader`; `None` when
/// there is no `java` on PATH.
fn java_maps(dir: &Path, file: &Path) -> Option<[BTreeMap<String, String>; 2]> {
    if !java_available() {
        println!("SKIPPED: java is not on PATH; the java.util.Properties side of this check did not run");
        return None;
    }
    let src = dir.join("LoadProps.java");
    std::fs::write(&src, JAVA_LOADER).unwrap();
    let load = |mode: &str| {
        let o = Command::new("java").arg(&src).arg(file).arg(mode).output().unwrap();
        assert!(o.status.success(), "java failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(' ').unwrap();
                (unhex(k), unhex(v))
            })
            .collect()
    };
    Some([load("stream"), load("reader")])
}

#[test]
fn update_broker_config_cannot_inject_into_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = broker_port();
    let ns_port = broker_port();
    let conf = write_conf(dir.path(), port, "regionId=r0\nbrokerPermission=7\n# keep me \\\ntraceOn=true\n");
    let server = Server::start(&conf, port, ns_port);
    let addr = server.broker_addr.clone();

    // The probe: `x\ ` is an escaped space, so the value is "x " (trimmed
    // to "x" when used, as the Java broker trims strings).
    let r = update(&addr, "regionId=x\\ \n");
    assert_eq!(r.code, SUCCESS, "{:?}", r.remark);
    assert_eq!(live_config(&addr)["regionId"], "x");

    // Values holding a line break or other control character are refused,
    // whether escaped or raw.
    for (body, ch) in [
        ("regionId=a\\rb", "U+000D"),
        ("regionId=a\\u000Db", "U+000D"),
        ("regionId=a\\nbrokerPermission=2", "U+000A"),
        ("regionId=a\u{2028}brokerPermission=2", "U+2028"),
        ("regionId=a\\u2029b", "U+2029"),
        ("regionId=a\u{7f}b", "U+007F"),
        ("regionId=a\\u0000b", "U+0000"),
    ] {
        let r = update(&addr, body);
        assert_eq!(r.code, SYSTEM_ERROR, "{body:?}");
        let remark = r.remark.unwrap_or_default();
        assert!(remark.contains("[regionId]") && remark.contains(ch), "{body:?}: {remark}");
    }
    // A malformed \u escape fails as Java's string2Properties fails.
    let r = update(&addr, "regionId=\\u12");
    assert_eq!(r.code, SYSTEM_ERROR);
    assert!(r.remark.unwrap_or_default().starts_with("string2Properties error"));
    assert_eq!(live_config(&addr)["regionId"], "x", "nothing refused was applied");

    // A raw \r is a line break to Properties.load: two settings.
    let r = update(&addr, "regionId=r1\rtraceOn=false");
    assert_eq!(r.code, SUCCESS, "{:?}", r.remark);
    let live = live_config(&addr);
    assert_eq!((live["regionId"].as_str(), live["traceOn"].as_str()), ("r1", "false"));

    // Finally a value with a leading space, a trailing backslash and
    // characters Properties escapes; the line after it must survive.
    let region = " x=y:#!\\";
    let r = update(&addr, &format!("{}\n", store_line("regionId", region)));
    assert_eq!(r.code, SUCCESS, "{:?}", r.remark);
    let live = live_config(&addr);
    assert_eq!(live["regionId"], "x=y:#!\\");
    assert_eq!(live["brokerPermission"], "7");
    server.stop();

    // The file: other lines kept, the value escaped, nothing swallowed.
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("regionId=\\ x\\=y\\:\\#\\!\\\\\nbrokerPermission=7\n# keep me \\\ntraceOn=false\n"), "{text}");
    assert!(text.starts_with("brokerName=broker-a\nbrokerIP1=127.0.0.1\n"), "{text}");
    let ours = ferromq_map(&text);
    assert_eq!(ours["regionId"], region);
    assert_eq!(ours["brokerPermission"], "7");
    assert_eq!(ours["traceOn"], "false");
    if let Some([stream, reader]) = java_maps(dir.path(), &conf) {
        assert_eq!(stream, ours, "java.util.Properties.load(InputStream) reads the file differently");
        assert_eq!(reader, ours, "java.util.Properties.load(Reader) reads the file differently");
    }

    // A restarted broker reads what was set.
    let server = Server::start(&conf, port, ns_port);
    let live = live_config(&server.broker_addr);
    assert_eq!(live["regionId"], "x=y:#!\\");
    assert_eq!((live["brokerPermission"].as_str(), live["traceOn"].as_str()), ("7", "false"));
    server.stop();
}

/// The writer against the real `java.util.Properties`: whatever a key or
/// value holds, Java reads back what was stored.
#[test]
fn stored_lines_read_back_the_same_in_java() {
    let dir = tempfile::tempdir().unwrap();
    let tricky = [
        "",
        " ",
        "  lead and trail  ",
        "x\\",
        "\\",
        "\\\\ \\",
        "a\rb\nc\r\nd",
        "\u{2028}\u{2029}\u{85}",
        "tab\there\u{c}ff",
        "=:#!",
        "#not a comment",
        "\\u0041",
        "é ü 中文 Ж",
        "\u{1F600} astral \u{10FFFF}",
        "\u{0}\u{1}\u{1f}\u{7f}\u{80}\u{ff}\u{100}\u{ffff}",
    ];
    let mut pairs = Vec::new();
    for (i, v) in tricky.iter().enumerate() {
        pairs.push((format!("v{i}"), v.to_string()));
        pairs.push((format!("k{i} {v}"), format!("key {i}")));
    }
    let text: String = pairs.iter().map(|(k, v)| store_line(k, v) + "\n").collect();
    assert!(text.is_ascii());
    let file = dir.path().join("tricky.properties");
    std::fs::write(&file, &text).unwrap();
    let want: BTreeMap<String, String> = pairs.into_iter().collect();
    assert_eq!(ferromq_map(&text), want);
    if let Some([stream, reader]) = java_maps(dir.path(), &file) {
        assert_eq!(stream, want);
        assert_eq!(reader, want);
    }
}
