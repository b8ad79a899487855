//! What to do next, added by the CLI to an error it prints. The client and the daemon say what
//! went wrong in the domain's terms (a web page shows the same messages); only the CLI knows
//! which of its commands fixes it.

/// The hint for `err`, if the CLI has one: how to sign in after a 401, how to start a session
/// that is not running, where to look at an agent that is not ready.
pub(crate) fn for_error(err: &anyhow::Error) -> Option<String> {
    let client = err.chain().find_map(|c| c.downcast_ref::<llmux_client::Error>())?;
    match client {
        llmux_client::Error::Unauthorized { server, .. } => Some(format!(
            "log in with `llmux auth login --server {}` or pass --token",
            server.as_deref().unwrap_or("URL")
        )),
        llmux_client::Error::Api { code, message, .. } if code == "not_running" => {
            // The daemon names the session in quotes: `session "NAME" is not running`.
            let name = message.split('"').nth(1).unwrap_or("NAME");
            Some(format!("start it again with `llmux session restart {name}`"))
        }
        llmux_client::Error::Api { code, message, .. } if code == "not_ready" => {
            let name = message.split('"').nth(1).unwrap_or("NAME");
            Some(format!("look at it with `llmux session attach {name}`"))
        }
        llmux_client::Error::InvalidUrl { reason, .. } if reason.contains("credentials") => {
            Some("use --token or `llmux auth login`".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, message: &str) -> anyhow::Error {
        llmux_client::Error::Api {
            status: hyper::StatusCode::CONFLICT,
            code: code.into(),
            message: message.into(),
        }
        .into()
    }

    #[test]
    fn a_session_that_is_not_running_is_restarted_by_name() {
        let err = api("not_running", "session \"build\" is not running");
        assert_eq!(
            for_error(&err.context("cannot send")).as_deref(),
            Some("start it again with `llmux session restart build`")
        );
        assert_eq!(for_error(&api("conflict", "session \"b\" is running")), None);
        let err = api("not_ready", "the agent in session \"slow\" is still starting after 2s");
        assert_eq!(for_error(&err).as_deref(), Some("look at it with `llmux session attach slow`"));
    }

    #[test]
    fn a_401_says_how_to_log_in_to_that_server() {
        let err: anyhow::Error = llmux_client::Error::Unauthorized {
            server: Some("http://box:3001".into()),
            code: "unauthorized".into(),
            message: "invalid token".into(),
        }
        .into();
        assert_eq!(err.to_string(), "invalid token", "the client's message is the domain's");
        assert_eq!(
            for_error(&err).as_deref(),
            Some("log in with `llmux auth login --server http://box:3001` or pass --token")
        );
    }
}
