//! `cartox serve`: the web explorer's static files (`web/dist`, built by `web/build.sh`) over HTTP,
//! for a classroom or for a browser that will not run the page from disk. Binds 127.0.0.1 unless
//! told otherwise; serves GET and HEAD of files under the folder, nothing else.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use tiny_http::{Header, Method, Response, Server};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The folder to serve (the explorer: build it with `web/build.sh`).
    #[arg(long, default_value = "web/dist", value_name = "DIR")]
    pub dir: PathBuf,
    /// Address to bind: 127.0.0.1 is this machine only; 0.0.0.0 opens it to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
}

/// The media type of a file by its extension (`application/wasm` for WebAssembly, which
/// browsers require to compile it while it streams).
pub fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "csv" => "text/csv; charset=utf-8",
        "txt" | "md" | "toml" => "text/plain; charset=utf-8",
        "xml" | "sbml" => "application/xml",
        _ => "application/octet-stream",
    }
}

/// The file a request path names under `dir`: `/` is `index.html`; a path with `..`, a drive or a
/// root inside it names nothing.
fn file_for(dir: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    };
    let rel = Path::new(&rel);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(dir.join(rel))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    if !a.dir.join("index.html").is_file() {
        bail!(
            "--dir {}: no index.html there (build the explorer with web/build.sh)",
            a.dir.display()
        );
    }
    let server = Server::http((a.bind, a.port))
        .map_err(|e| anyhow::anyhow!("--port {}: cannot listen on {}: {e}", a.port, a.bind))?;
    let addr = server
        .server_addr()
        .to_ip()
        .context("the server has no IP address")?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "serving {} at http://{addr}/ (Ctrl-C to stop)",
        a.dir.display()
    )?;
    out.flush()?;
    for request in server.incoming_requests() {
        let method = request.method().clone();
        if method != Method::Get && method != Method::Head {
            let _ = request
                .respond(Response::from_string("method not allowed\n").with_status_code(405));
            continue;
        }
        let file = file_for(&a.dir, request.url()).filter(|p| p.is_file());
        let response = match file.and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
            Some((path, bytes)) => Response::from_data(if method == Method::Head {
                vec![]
            } else {
                bytes
            })
            .with_header(header("Content-Type", media_type(&path)))
            .with_header(header("Cache-Control", "no-cache"))
            .with_header(header("X-Content-Type-Options", "nosniff")),
            None => Response::from_data(b"not found\n".to_vec())
                .with_status_code(404)
                .with_header(header("Content-Type", "text/plain; charset=utf-8")),
        };
        let _ = request.respond(response);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_stay_inside_the_folder() {
        let d = Path::new("/srv/x");
        assert_eq!(file_for(d, "/"), Some(d.join("index.html")));
        assert_eq!(file_for(d, "/app.js?v=1"), Some(d.join("app.js")));
        assert_eq!(file_for(d, "/a/"), Some(d.join("a/index.html")));
        assert_eq!(file_for(d, "/../etc/passwd"), None);
        assert_eq!(file_for(d, "/a/../../b"), None);
        assert_eq!(file_for(d, "//etc/passwd"), Some(d.join("etc/passwd")));
        assert_eq!(media_type(Path::new("x.wasm")), "application/wasm");
        assert_eq!(
            media_type(Path::new("x.js")),
            "text/javascript; charset=utf-8"
        );
    }
}
