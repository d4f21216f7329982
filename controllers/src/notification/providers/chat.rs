//! Webhooks and chat services: generic (and HMAC-signed) forwarding, Slack and the
//! Slack-compatible Discord and Rocket.Chat, Microsoft Teams, Google Chat, Webex,
//! Telegram, Matrix and Lark.

use super::format::{self, is_error, metadata_lines, object_title, parts, pick};
use super::http::{Http, Req};
use super::{ProviderConfig, ProviderError};
use gitops_api::event::Event;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The Slack API endpoint whose answers are always 200 with `{"ok": …}` in the body.
const SLACK_POST_MESSAGE: &str = "https://slack.com/api/chat.postMessage";
/// Telegram's Bot API.
const TELEGRAM_API: &str = "https://api.telegram.org";

/// `generic` and `generic-hmac`: the event as JSON, `gotk-component` naming the
/// reporting controller, and for `generic-hmac` `X-Signature: sha256=<hex HMAC-SHA256
/// of the body keyed with the token>`.
pub(super) async fn generic(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let body = serde_json::to_vec(event)
        .map_err(|e| ProviderError(format!("failed marshalling event: {e}")))?;
    let mut req = Req::new(Method::POST, cfg.address.trim())
        .body("application/json", body.clone())
        .header("gotk-component", &event.reporting_controller);
    if cfg.type_ == "generic-hmac" {
        req = req.auth_header(
            "X-Signature",
            format!("sha256={}", hmac_sha256_hex(cfg.token.as_bytes(), &body)),
        );
    }
    http.send_ok(&req).await.map(drop)
}

/// Hex HMAC-SHA256 of `payload` keyed with `key`.
pub(super) fn hmac_sha256_hex(key: &[u8], payload: &[u8]) -> String {
    // HMAC takes keys of any length.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(payload);
            hex::encode(m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// A Slack message with one attachment: the event's message, its metadata as fields.
fn slack_payload(
    channel: &str,
    username: &str,
    color: &str,
    fallback: bool,
    event: &Event,
) -> Value {
    let author = object_title(event);
    let fields: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"title": k, "value": v, "short": false}))
        .collect();
    let fallback = if fallback {
        format!("{author}: {}", format::first_line(&event.message))
    } else {
        String::new()
    };
    json!({
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [{
            "fallback": fallback,
            "color": color,
            "author_name": author,
            "text": event.message,
            "mrkdwn_in": ["text"],
            "fields": fields,
        }],
    })
}

fn username_or_controller<'a>(cfg: &'a ProviderConfig, event: &'a Event) -> &'a str {
    if cfg.username.is_empty() {
        &event.reporting_controller
    } else {
        &cfg.username
    }
}

/// `slack`: an incoming webhook or `chat.postMessage` (with the token as bearer).
pub(super) async fn slack(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let color = pick(event, "good", "danger");
    let payload = slack_payload(
        &cfg.channel,
        username_or_controller(cfg, event),
        color,
        true,
        event,
    );
    let address = cfg.address.trim();
    let mut req = Req::post_json(address, &payload)?;
    if !cfg.token.is_empty() {
        req = req.bearer(&cfg.token);
    }
    let reply = http.send_ok(&req).await?;
    if address == SLACK_POST_MESSAGE {
        // chat.postMessage answers 200 and tells failures in the body.
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            ok: bool,
            #[serde(default)]
            error: String,
        }
        let a: Answer = reply.json()?;
        if !a.ok {
            return Err(ProviderError(format!(
                "Slack responded with error: {}",
                a.error
            )));
        }
    }
    Ok(())
}

/// The Discord webhook URL with `/slack` appended (Discord's Slack-compatible
/// endpoint), unless it already ends so.
fn discord_url(address: &str) -> Result<String, ProviderError> {
    let address = address.trim();
    if address.ends_with("/slack") {
        return Ok(address.to_owned());
    }
    let mut u =
        reqwest::Url::parse(address).map_err(|_| ProviderError::new("invalid Discord hook URL"))?;
    let path = format!("{}/slack", u.path().trim_end_matches('/'));
    u.set_path(&path);
    Ok(u.to_string())
}

/// `discord`: the Slack payload to the webhook's `/slack` endpoint.
pub(super) async fn discord(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let color = pick(event, "good", "danger");
    let payload = slack_payload("", username_or_controller(cfg, event), color, false, event);
    let req = Req::post_json(discord_url(&cfg.address)?, &payload)?;
    http.send_ok(&req).await.map(drop)
}

/// `rocket`: the Slack payload with Rocket.Chat colours.
pub(super) async fn rocket(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let color = pick(event, "#0076D7", "#FF0000");
    let payload = slack_payload(&cfg.channel, &cfg.username, color, false, event);
    let req = Req::post_json(cfg.address.trim(), &payload)?;
    http.send_ok(&req).await.map(drop)
}

/// `msteams`: an Adaptive Card (Workflows webhooks), or a MessageCard for the deprecated
/// Office 365 connectors (`*.webhook.office.com`).
pub(super) async fn msteams(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let address = cfg.address.trim();
    let legacy = reqwest::Url::parse(address)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.ends_with(".webhook.office.com")))
        .unwrap_or(false);
    let payload = if legacy {
        teams_message_card(event)
    } else {
        teams_adaptive_card(event)
    };
    let req = Req::post_json(address, &payload)?;
    http.send_ok(&req).await.map(drop)
}

fn teams_message_card(event: &Event) -> Value {
    let title = object_title(event);
    let facts: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": pick(event, "0076D7", "FF0000"),
        "summary": title,
        "sections": [{
            "activityTitle": event.message,
            "activitySubtitle": title,
            "facts": facts,
        }],
    })
}

fn teams_adaptive_card(event: &Event) -> Value {
    // `summary` first, then the other metadata by key.
    let mut facts: Vec<Value> = Vec::new();
    if let Some(s) = event.metadata.get("summary") {
        facts.push(json!({"title": "summary", "value": s}));
    }
    facts.extend(
        event
            .metadata
            .iter()
            .filter(|(k, _)| k.as_str() != "summary")
            .map(|(k, v)| json!({"title": k, "value": v})),
    );
    let mut message = json!({"type": "TextBlock", "text": event.message, "wrap": true});
    if is_error(event) {
        message["color"] = json!("attention");
    }
    if event.message.is_empty() {
        // Go's omitempty.
        if let Some(m) = message.as_object_mut() {
            m.remove("text");
        }
    }
    let mut fact_set = json!({"type": "FactSet"});
    if !facts.is_empty() {
        fact_set["facts"] = Value::Array(facts);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{
                    "type": "Container",
                    "items": [
                        {"type": "TextBlock", "text": object_title(event), "size": "large",
                         "weight": "bolder", "wrap": true},
                        message,
                        fact_set,
                    ],
                }],
                "msteams": {"width": "Full"},
            },
        }],
    })
}

/// `googlechat`: a card with the object as title, the message, and the metadata as
/// key/value widgets.
pub(super) async fn googlechat(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let text = if is_error(event) {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let mut sections = vec![json!({
        "header": "",
        "widgets": [{"textParagraph": {"text": text}, "keyValue": null}],
    })];
    if !event.metadata.is_empty() {
        let widgets: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| {
                json!({"textParagraph": null, "keyValue": {
                    "topLabel": k, "content": v, "contentMultiline": false,
                    "bottomLabel": null, "icon": null,
                }})
            })
            .collect();
        sections.push(json!({"header": "", "widgets": widgets}));
    }
    let payload = json!({"cards": [{
        "header": {
            "title": object_title(event),
            "subtitle": event.reporting_controller,
            "imageUrl": null,
            "imageStyle": null,
        },
        "sections": sections,
    }]});
    let req = Req::post_json(cfg.address.trim(), &payload)?;
    http.send_ok(&req).await.map(drop)
}

/// `webex`: a Markdown message to the room (`channel`), the token as bearer.
pub(super) async fn webex(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let markdown = format!(
        "{} **{}**\n{}\n{}",
        pick(event, "✅", "💣"),
        object_title(event),
        event.message,
        metadata_lines(event, |k, v| format!(">**{k}**: {v}\n"))
    );
    let mut payload = serde_json::Map::new();
    if !cfg.channel.is_empty() {
        payload.insert("roomId".into(), json!(cfg.channel));
    }
    payload.insert("markdown".into(), json!(markdown));
    let req = Req::post_json(cfg.address.trim(), &payload)?.bearer(&cfg.token);
    http.send_ok(&req).await.map(drop)
}

/// `telegram`: `sendMessage` of the bot (token) to the chat (`channel`, optionally
/// `<chat>:<thread>`), in MarkdownV2.
pub(super) async fn telegram(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let (kind, name, ns) = parts(event);
    let heading = format!(
        "{} {}/{name}/{ns}",
        pick(event, "💫", "🚨"),
        kind.to_lowercase()
    );
    let metadata = metadata_lines(event, |k, v| {
        format!(
            "\\- *{}*: {}\n",
            format::telegram_escape(k),
            format::telegram_escape(v)
        )
    });
    let text = format!(
        "*{}*\n{}\n{metadata}",
        format::telegram_escape(&heading),
        format::telegram_escape(&event.message)
    );
    let mut payload = serde_json::Map::new();
    let (chat, thread) = match cfg.channel.split_once(':') {
        Some((c, t)) => (c, Some(t)),
        None => (cfg.channel.as_str(), None),
    };
    payload.insert("chat_id".into(), json!(chat));
    if let Some(t) = thread.filter(|t| !t.is_empty()) {
        payload.insert("message_thread_id".into(), json!(t));
    }
    payload.insert("text".into(), json!(text));
    payload.insert("parse_mode".into(), json!("MarkdownV2"));
    let base = cfg.api_base.as_deref().unwrap_or(TELEGRAM_API);
    let url = format!(
        "{}/bot{}/sendMessage",
        base.trim_end_matches('/'),
        cfg.token
    );
    let req = Req::post_json(url, &payload)?;
    http.send_ok(&req).await.map(drop)
}

/// `matrix`: `PUT /_matrix/client/r0/rooms/<room>/send/m.room.message/<txn>` with the
/// token as bearer; the transaction ID is the SHA-1 of the event's JSON.
pub(super) async fn matrix(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let event_json = serde_json::to_vec(event)
        .map_err(|e| ProviderError(format!("unable to generate unique tx id: {e}")))?;
    let txn = hex::encode(sha1::Sha1::digest(&event_json));
    let mut url = reqwest::Url::parse(cfg.address.trim().trim_end_matches('/'))
        .map_err(|_| ProviderError::new("invalid Matrix homeserver URL"))?;
    url.path_segments_mut()
        .map_err(|_| ProviderError::new("invalid Matrix homeserver URL"))?
        .pop_if_empty()
        .extend(["_matrix", "client", "r0", "rooms"])
        .push(&cfg.channel)
        .extend(["send", "m.room.message", &txn]);
    let heading = format!("{} {}", pick(event, "💫", "🚨"), object_title(event));
    let body = format!(
        "{heading}\n{}\n{}",
        event.message,
        metadata_lines(event, |k, v| format!("- {k}: {v}\n"))
    );
    let payload = json!({"body": body, "msgtype": "m.text"});
    let req = Req::json(Method::PUT, url.to_string(), &payload)?.bearer(&cfg.token);
    http.send_ok(&req).await.map(drop)
}

/// `lark`: an interactive card.
pub(super) async fn lark(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let content = format!(
        "**{}**\n\n{}",
        event.message,
        metadata_lines(event, |k, v| format!("{k}: {v}\n"))
    );
    let payload = json!({
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": true},
            "header": {
                "title": {
                    "tag": "plain_text",
                    "content": format!("{} {}", pick(event, "💫", "🚨"), object_title(event)),
                },
                "template": pick(event, "turquoise", "red"),
            },
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
        },
    });
    let req = Req::post_json(cfg.address.trim(), &payload)?;
    http.send_ok(&req).await.map(drop)
}
