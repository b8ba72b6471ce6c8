//! `litellm-pulse check` end to end: the real binary on a valid and an
//! invalid file, standard input, a URL, and inputs it cannot read.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;

/// Exit code, standard output and standard error of `litellm-pulse check ARGS`.
fn check(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_litellm-pulse"))
        .arg("check")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start litellm-pulse");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

const VALID: &str = "# TYPE requests counter\n\
                     # HELP requests Requests served.\n\
                     requests_total{code=\"200\"} 12\n\
                     requests_created{code=\"200\"} 1700000000.5\n\
                     # TYPE latency_seconds histogram\n\
                     # UNIT latency_seconds seconds\n\
                     latency_seconds_bucket{le=\"0.1\"} 3\n\
                     latency_seconds_bucket{le=\"+Inf\"} 5\n\
                     latency_seconds_count 5\n\
                     latency_seconds_sum 0.9\n\
                     # EOF\n";

const INVALID: &str = "# TYPE requests counter\n\
                       requests_total -1\n\
                       # TYPE latency_seconds histogram\n\
                       latency_seconds_bucket{le=\"0.1\"} 3\n\
                       latency_seconds_count 3\n\
                       # EOF\n";

fn file(body: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(body.as_bytes()).expect("write temp file");
    f
}

#[test]
fn a_valid_file_exits_0_and_prints_no_problem() {
    let f = file(VALID);
    let path = f.path().to_str().expect("utf-8 path");
    let (code, out, err) = check(&[path], "", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "");
    assert!(err.contains("valid OpenMetrics 1.0"), "{err}");
}

#[test]
fn an_invalid_file_exits_1_with_each_problem_as_line_colon_message() {
    let f = file(INVALID);
    let path = f.path().to_str().expect("utf-8 path");
    let (code, out, err) = check(&[path], "", &[]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("2: requests_total is -1"), "{out}");
    assert!(
        lines[1].starts_with("5: latency_seconds has no bucket with le=\"+Inf\""),
        "{out}"
    );
    assert!(
        lines[2].starts_with("5: latency_seconds has latency_seconds_count but no"),
        "{out}"
    );
    assert!(err.contains("3 problems (OpenMetrics 1.0)"), "{err}");
}

#[test]
fn standard_input_and_an_explicit_format() {
    // Valid text 0.0.4 (blanks, a trailing comma) ...
    let text = "# TYPE a counter\na { x = \"1\", } 1 1700000000000\n";
    let (code, out, _) = check(&["-"], text, &[]);
    assert_eq!((code, out.as_str()), (0, ""));
    // ... is not OpenMetrics.
    let (code, out, _) = check(&["--format", "openmetrics"], text, &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("2: "), "{out}");
    assert!(out.contains("the body does not end with `# EOF`"), "{out}");
}

#[test]
fn unreadable_inputs_exit_2() {
    let (code, out, err) = check(&["/nonexistent/metrics.txt"], "", &[]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(
        err.contains("cannot read /nonexistent/metrics.txt"),
        "{err}"
    );
    let (code, _, err) = check(&["--format", "yaml", "x"], "", &[]);
    assert_eq!(code, 2, "{err}");
    // Nothing listens on port 9 of localhost.
    let (code, _, err) = check(&["http://127.0.0.1:9/metrics"], "", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot fetch http://127.0.0.1:9/metrics"),
        "{err}"
    );
}

#[test]
fn a_url_is_fetched_and_the_metrics_key_stays_with_its_origin() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut buf).expect("read request");
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{INVALID}",
            INVALID.len()
        );
        conn.write_all(answer.as_bytes()).expect("answer");
        String::from_utf8_lossy(&request).to_lowercase()
    });
    let url = format!("http://127.0.0.1:{port}/metrics");
    let env = [
        (
            "LITELLM_PULSE_METRICS_URL",
            "http://litellm.invalid:4000/metrics/",
        ),
        ("LITELLM_PULSE_METRICS_API_KEY", "sk-secret"),
    ];
    let (code, out, err) = check(&[&url], "", &env);
    let request = server.join().expect("server thread");
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(request.starts_with("get /metrics "), "{request}");
    assert!(!request.contains("authorization"), "{request}");
    assert!(!request.contains("sk-secret"), "{request}");
}
