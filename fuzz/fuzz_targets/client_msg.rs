//! The terminal WebSocket's control messages (`ClientMsg::parse`): every text frame a viewer
//! sends goes through it, and whatever it does not take is typed into the pane.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_api::ClientMsg;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let msg = ClientMsg::parse(text);
    if !text.starts_with('{') {
        // Keystrokes are never swallowed as control messages.
        assert_eq!(msg, None, "{text:?}");
    }
    if let Some(msg) = msg {
        // Only a JSON object is a control message, and it reads back the same.
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert!(v.is_object(), "{text:?}");
        let again = serde_json::to_string(&msg).unwrap();
        assert_eq!(ClientMsg::parse(&again), Some(msg), "{text:?} -> {again}");
    }
});
