//! A fake LLM server for the tests: std TcpListener on 127.0.0.1:0, a thread per
//! connection, replies chosen per connection (HTTP errors, malformed JSON, chunked
//! streams cut short, stalls), and a log of the requests it saw.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/llm/");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
}

/// What the fake server does with one connection.
#[derive(Clone)]
pub enum Reply {
    /// Status, content type, body; sent with Content-Length.
    Whole(u16, &'static str, String),
    /// 200 with chunked transfer; `finish: false` closes without the final chunk.
    Chunked {
        ctype: &'static str,
        chunks: Vec<String>,
        finish: bool,
    },
    /// Wait, then reply.
    Slow(Duration, Box<Reply>),
    /// 200 chunked: send these, then keep the connection open for `wait`.
    Stall {
        ctype: &'static str,
        chunks: Vec<String>,
        wait: Duration,
    },
    /// Close without answering.
    Close,
    /// Status, extra header lines (`Retry-After: 2`), JSON body.
    Headers(u16, Vec<String>, String),
    /// 200 chunked, `chunk` sent again and again until the client hangs up.
    Endless { ctype: &'static str, chunk: String },
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub head: String,
    pub body: serde_json::Value,
}

pub struct FakeServer {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeServer {
    /// Connection i gets `replies[i]`, the last reply repeating.
    pub fn start(replies: Vec<Reply>) -> FakeServer {
        FakeServer::with(move |i, _| replies[i.min(replies.len() - 1)].clone())
    }

    /// Reply to connection `i` (0-based) with `pick(i, request)`.
    pub fn with(pick: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let pick = Arc::new(pick);
        thread::spawn(move || {
            for (i, conn) in listener.incoming().enumerate() {
                let Ok(conn) = conn else { return };
                let log = Arc::clone(&log);
                let pick = Arc::clone(&pick);
                thread::spawn(move || serve(conn, i, &*pick, &log));
            }
        });
        FakeServer { base, seen }
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    conn: TcpStream,
    i: usize,
    pick: &(dyn Fn(usize, &Seen) -> Reply + Send + Sync),
    log: &Mutex<Vec<Seen>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let seen = Seen { head, body };
    let reply = pick(i, &seen);
    log.lock().unwrap().push(seen);
    respond(conn, reply);
}

fn respond(mut conn: TcpStream, reply: Reply) {
    match reply {
        Reply::Whole(code, ctype, body) => {
            let _ = write!(
                conn,
                "HTTP/1.1 {code} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Reply::Chunked {
            ctype,
            chunks,
            finish,
        } => {
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            );
            for c in chunks {
                let _ = write!(conn, "{:x}\r\n{c}\r\n", c.len());
                let _ = conn.flush();
            }
            if finish {
                let _ = write!(conn, "0\r\n\r\n");
            }
        }
        Reply::Slow(wait, then) => {
            thread::sleep(wait);
            respond(conn, *then);
        }
        Reply::Stall {
            ctype,
            chunks,
            wait,
        } => {
            respond(
                conn.try_clone().unwrap(),
                Reply::Chunked {
                    ctype,
                    chunks,
                    finish: false,
                },
            );
            thread::sleep(wait);
        }
        Reply::Close => {}
        Reply::Headers(code, headers, body) => {
            let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
            let _ = write!(
                conn,
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Reply::Endless { ctype, chunk } => {
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            );
            while write!(conn, "{:x}\r\n{chunk}\r\n", chunk.len()).is_ok() {}
        }
    }
}

pub fn json(code: u16, body: String) -> Reply {
    Reply::Whole(code, "application/json", body)
}

/// The fixture's lines as chunks, the way servers flush events.
pub fn chunked(ctype: &'static str, text: &str, finish: bool) -> Reply {
    let chunks = text.split_inclusive('\n').map(str::to_string).collect();
    Reply::Chunked {
        ctype,
        chunks,
        finish,
    }
}
