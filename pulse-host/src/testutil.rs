//! Settings for the host's unit tests (the fake LiteLLM is `pulse_testkit::FakeLiteLlm`).

/// Settings for scraping `url`, with everything else at its default.
pub fn settings_for(url: &str, extra: &[&str]) -> crate::config::Settings {
    let mut args = vec![
        "litellm-pulse",
        "--metrics-url",
        url,
        "--scrape-timeout",
        "2",
    ];
    args.extend_from_slice(extra);
    <crate::config::Cli as clap::Parser>::try_parse_from(args)
        .unwrap()
        .resolve(|_| None)
        .unwrap()
        .0
}
