//! generic, generic-hmac, slack, discord, rocket, msteams, googlechat, webex, telegram,
//! matrix, lark.

use super::*;

#[tokio::test]
async fn generic_posts_the_event_with_headers() {
    let srv = TestServer::ok().await;
    let mut cfg = config("generic", &format!("{}/hook?x=1", srv.url));
    cfg.headers.insert("X-Custom".into(), "yes".into());
    let e = error_event();
    send(&cfg, &e).await.unwrap();
    let r = srv.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path_and_query(), "/hook?x=1");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("gotk-component"), "kustomize-controller");
    assert_eq!(r.header("x-custom"), "yes");
    assert_eq!(r.header("x-signature"), "");
    let back: Event = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(back, e);
    let j = r.json();
    assert_eq!(j["involvedObject"]["kind"], "Kustomization");
    assert_eq!(j["reportingController"], "kustomize-controller");
    assert_eq!(j["metadata"]["revision"], format!("main@sha1:{SHA}"));
}

#[tokio::test]
async fn generic_hmac_signs_the_body() {
    let srv = TestServer::ok().await;
    let mut cfg = config("generic-hmac", &srv.url);
    cfg.token = TOKEN.into();
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.single();
    let mut m =
        <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(TOKEN.as_bytes()).unwrap();
    hmac::Mac::update(&mut m, &r.body);
    let want = format!(
        "sha256={}",
        hex::encode(hmac::Mac::finalize(m).into_bytes())
    );
    assert_eq!(r.header("x-signature"), want);
}

#[tokio::test]
async fn slack_sends_an_attachment() {
    let srv = TestServer::ok().await;
    let mut cfg = config("slack", &format!("{}/services/T0/B0/XXXX", srv.url));
    cfg.channel = "#ops".into();
    cfg.token = TOKEN.into();
    cfg.headers.insert("X-Extra".into(), "1".into());
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.path, "/services/T0/B0/XXXX");
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(r.header("x-extra"), "1");
    let j = r.json();
    assert_eq!(j["channel"], "#ops");
    assert_eq!(j["username"], "kustomize-controller");
    assert!(j.get("text").is_none());
    let a = &j["attachments"][0];
    assert_eq!(a["color"], "danger");
    assert_eq!(a["author_name"], "kustomization/webapp.gitops-system");
    assert_eq!(a["text"], "Health check failed\nafter 2m");
    assert_eq!(
        a["fallback"],
        "kustomization/webapp.gitops-system: Health check failed"
    );
    assert_eq!(a["mrkdwn_in"], serde_json::json!(["text"]));
    assert_eq!(a["fields"][0]["title"], "revision");
    assert_eq!(a["fields"][0]["short"], false);
    assert_eq!(a["fields"][1]["value"], "Cluster: prod");
}

#[tokio::test]
async fn slack_info_is_good_and_username_kept() {
    let srv = TestServer::ok().await;
    let mut cfg = config("slack", &srv.url);
    cfg.username = "flux".into();
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.header("authorization"), "");
    let j = r.json();
    assert_eq!(j["username"], "flux");
    assert_eq!(j["attachments"][0]["color"], "good");
}

#[tokio::test]
async fn discord_uses_the_slack_compatible_endpoint() {
    let srv = TestServer::ok().await;
    let cfg = config("discord", &format!("{}/api/webhooks/1/abc", srv.url));
    send(&cfg, &error_event()).await.unwrap();
    let cfg = config("discord", &format!("{}/api/webhooks/1/abc/slack", srv.url));
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.requests();
    assert_eq!(r[0].path, "/api/webhooks/1/abc/slack");
    assert_eq!(r[1].path, "/api/webhooks/1/abc/slack");
    let j = r[0].json();
    assert_eq!(j["username"], "kustomize-controller");
    assert_eq!(j["channel"], "");
    assert_eq!(j["attachments"][0]["color"], "danger");
    assert_eq!(j["attachments"][0]["fallback"], "");
}

#[tokio::test]
async fn rocket_uses_its_colours() {
    let srv = TestServer::ok().await;
    let mut cfg = config("rocket", &format!("{}/hooks/x", srv.url));
    cfg.channel = "ops".into();
    cfg.username = "bot".into();
    send(&cfg, &info_event()).await.unwrap();
    let j = srv.single().json();
    assert_eq!(j["channel"], "ops");
    assert_eq!(j["username"], "bot");
    assert_eq!(j["attachments"][0]["color"], "#0076D7");
    assert_eq!(
        j["attachments"][0]["author_name"],
        "kustomization/webapp.gitops-system"
    );
}

#[tokio::test]
async fn msteams_sends_an_adaptive_card() {
    let srv = TestServer::ok().await;
    let cfg = config("msteams", &format!("{}/workflows/x", srv.url));
    send(&cfg, &error_event()).await.unwrap();
    let j = srv.single().json();
    assert_eq!(j["type"], "message");
    let a = &j["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    let c = &a["content"];
    assert_eq!(c["type"], "AdaptiveCard");
    assert_eq!(c["version"], "1.4");
    assert_eq!(c["msteams"]["width"], "Full");
    let items = &c["body"][0]["items"];
    assert_eq!(c["body"][0]["type"], "Container");
    assert_eq!(items[0]["text"], "kustomization/webapp.gitops-system");
    assert_eq!(items[0]["weight"], "bolder");
    assert_eq!(items[1]["color"], "attention");
    assert_eq!(items[1]["text"], "Health check failed\nafter 2m");
    assert_eq!(items[2]["type"], "FactSet");
    assert_eq!(items[2]["facts"][0]["title"], "summary");
    assert_eq!(items[2]["facts"][1]["title"], "revision");
}

#[tokio::test]
async fn msteams_legacy_connector_through_a_proxy() {
    // The proxy (our server) sees the absolute URL of the Office 365 connector host.
    let srv = TestServer::ok().await;
    let mut cfg = config("msteams", "http://acme.webhook.office.com/webhookb2/abc");
    cfg.proxy = Some(srv.url.clone());
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.uri, "http://acme.webhook.office.com/webhookb2/abc");
    let j = r.json();
    assert_eq!(j["@type"], "MessageCard");
    assert_eq!(j["themeColor"], "0076D7");
    assert_eq!(j["summary"], "kustomization/webapp.gitops-system");
    assert_eq!(
        j["sections"][0]["activityTitle"],
        "Health check failed\nafter 2m"
    );
    assert_eq!(j["sections"][0]["facts"][0]["name"], "revision");
}

#[tokio::test]
async fn googlechat_sends_a_card() {
    let srv = TestServer::ok().await;
    let cfg = config(
        "googlechat",
        &format!("{}/v1/spaces/x/messages?key=k", srv.url),
    );
    send(&cfg, &error_event()).await.unwrap();
    let j = srv.single().json();
    let card = &j["cards"][0];
    assert_eq!(
        card["header"]["title"],
        "kustomization/webapp.gitops-system"
    );
    assert_eq!(card["header"]["subtitle"], "kustomize-controller");
    assert_eq!(
        card["sections"][0]["widgets"][0]["textParagraph"]["text"],
        "<font color=\"#ff0000\">Health check failed\nafter 2m</font>"
    );
    assert_eq!(
        card["sections"][1]["widgets"][0]["keyValue"]["topLabel"],
        "revision"
    );
    assert_eq!(
        card["sections"][1]["widgets"][1]["keyValue"]["content"],
        "Cluster: prod"
    );
}

#[tokio::test]
async fn webex_sends_markdown_to_the_room() {
    let srv = TestServer::ok().await;
    let mut cfg = config("webex", &format!("{}/v1/messages", srv.url));
    cfg.channel = "room-1".into();
    cfg.token = TOKEN.into();
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    let j = r.json();
    assert_eq!(j["roomId"], "room-1");
    assert_eq!(
        j["markdown"],
        format!(
            "✅ **kustomization/webapp.gitops-system**\nHealth check failed\nafter 2m\n\
             >**revision**: main@sha1:{SHA}\n>**summary**: Cluster: prod\n"
        )
    );
}

#[tokio::test]
async fn telegram_sends_markdown_v2_to_the_bot_api() {
    let srv = TestServer::ok().await;
    let mut cfg = config("telegram", "");
    cfg.api_base = Some(srv.url.clone());
    cfg.channel = "-100123:42".into();
    cfg.token = TOKEN.into();
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/bot{TOKEN}/sendMessage"));
    let j = r.json();
    assert_eq!(j["chat_id"], "-100123");
    assert_eq!(j["message_thread_id"], "42");
    assert_eq!(j["parse_mode"], "MarkdownV2");
    let text = j["text"].as_str().unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[0], "*💫 kustomization/webapp/gitops\\-system*");
    assert_eq!(lines[1], "Health check failed");
    assert_eq!(lines[3], format!("\\- *revision*: main@sha1:{SHA}"));
    assert_eq!(lines[4], "\\- *summary*: Cluster: prod");
}

#[tokio::test]
async fn matrix_puts_a_room_message() {
    let srv = TestServer::ok().await;
    let mut cfg = config("matrix", &format!("{}/", srv.url));
    cfg.channel = "!room:example.org".into();
    cfg.token = TOKEN.into();
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.method, "PUT");
    let prefix = "/_matrix/client/r0/rooms/!room:example.org/send/m.room.message/";
    assert!(r.path.starts_with(prefix), "{}", r.path);
    let txn = &r.path[prefix.len()..];
    assert_eq!(txn.len(), 40);
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    let j = r.json();
    assert_eq!(j["msgtype"], "m.text");
    assert_eq!(
        j["body"],
        format!(
            "🚨 kustomization/webapp.gitops-system\nHealth check failed\nafter 2m\n\
             - revision: main@sha1:{SHA}\n- summary: Cluster: prod\n"
        )
    );
}

#[tokio::test]
async fn lark_sends_an_interactive_card() {
    let srv = TestServer::ok().await;
    let cfg = config("lark", &format!("{}/open-apis/bot/v2/hook/x", srv.url));
    send(&cfg, &error_event()).await.unwrap();
    let j = srv.single().json();
    assert_eq!(j["msg_type"], "interactive");
    let card = &j["card"];
    assert_eq!(card["config"]["wide_screen_mode"], true);
    assert_eq!(card["header"]["template"], "red");
    assert_eq!(
        card["header"]["title"]["content"],
        "🚨 kustomization/webapp.gitops-system"
    );
    assert_eq!(card["elements"][0]["tag"], "div");
    assert_eq!(card["elements"][0]["text"]["tag"], "lark_md");
    assert!(
        card["elements"][0]["text"]["content"]
            .as_str()
            .unwrap()
            .starts_with("**Health check failed\nafter 2m**\n\nrevision: ")
    );
}
