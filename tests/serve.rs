//! `cartox serve`: the explorer's folder over HTTP on 127.0.0.1 with the right media types.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` -> (status line, headers lower-cased, body).
fn get(addr: &str, path: &str) -> (String, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let (status, headers) = head.split_once("\r\n").unwrap();
    (
        status.to_string(),
        headers.to_lowercase(),
        raw[split + 4..].to_vec(),
    )
}

#[test]
fn serves_the_folder_with_media_types_and_nothing_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("dist");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "<!doctype html><title>x</title>").unwrap();
    std::fs::write(site.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(site.join("m.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cartox"))
        .args(["serve", "--port", "0", "--dir"])
        .arg(&site)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let (status, headers, body) = get(&addr, "/");
    assert!(status.contains(" 200"), "{status}");
    assert!(headers.contains("content-type: text/html"), "{headers}");
    assert_eq!(body, b"<!doctype html><title>x</title>");
    let (status, headers, body) = get(&addr, "/m.wasm");
    assert!(status.contains(" 200"));
    assert!(
        headers.contains("content-type: application/wasm"),
        "{headers}"
    );
    assert_eq!(body, b"\0asm\x01\0\0\0");
    let (_, headers, _) = get(&addr, "/app.js?v=2");
    assert!(
        headers.contains("content-type: text/javascript"),
        "{headers}"
    );
    for outside in ["/../secret.txt", "/%2e%2e/secret.txt", "/nope.html"] {
        let (status, _, body) = get(&addr, outside);
        assert!(status.contains(" 404"), "{outside}: {status}");
        assert_ne!(body, b"no");
    }
}

#[test]
fn a_folder_without_the_explorer_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cartox"))
        .args(["serve", "--port", "0", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no index.html there (build the explorer with web/build.sh)"));
}
