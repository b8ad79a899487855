//! An agent's markdown as sanitized HTML: the one place the web UI takes markup from the
//! server (the chat view inserts it; everything else goes in as text).
//!
//! Two layers. The parser (pulldown-cmark, CommonMark + tables + strikethrough) never passes
//! the agent's raw HTML through: HTML blocks and inline HTML become text, so they show
//! escaped. Images become links to the image (nothing is fetched when a reply is shown).
//! Then ammonia cleans the output with a strict allow-list of the tags the parser writes,
//! `href` only on links, only `http`, `https` and `mailto` URLs (relative ones are dropped:
//! they would point into llmux), and every link opens a new tab with
//! `rel="noopener noreferrer nofollow"`.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use llmux_api::{Turn, TurnPart, TurnRole};
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

/// The tags the chat view shows.
const TAGS: &[&str] = &[
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
];

static CLEANER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::empty();
    b.tags(TAGS.iter().copied().collect())
        .clean_content_tags(HashSet::from(["script", "style"]))
        .generic_attributes(HashSet::new())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("ol", HashSet::from(["start"])),
        ]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .strip_comments(true);
    b
});

/// `md` as sanitized HTML.
pub fn to_html(md: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(md, opts).map(|e| match e {
        // The agent's own HTML is shown as the text it is.
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        Event::Start(Tag::Image { dest_url, title, id, .. }) => {
            Event::Start(Tag::Link { link_type: LinkType::Inline, dest_url, title, id })
        }
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        e => e,
    });
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    CLEANER.clean(&html).to_string()
}

/// The turn as clients are sent it: each text part of an assistant's turn with its `html`.
pub fn rendered(turn: &Turn) -> Turn {
    let mut t = turn.clone();
    if t.role == TurnRole::Assistant {
        for p in &mut t.parts {
            if let TurnPart::Text { text, html } = p {
                *html = Some(to_html(text));
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_renders() {
        let h = to_html(
            "# Title\n\n- a\n- b\n\n```rust\nfn x() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`c` **d** ~~e~~",
        );
        for want in [
            "<h1>Title</h1>",
            "<li>a</li>",
            "<pre><code>fn x() {}\n</code></pre>",
            "<table>",
            "<td>2</td>",
            "<code>c</code>",
            "<strong>d</strong>",
            "<del>e</del>",
        ] {
            assert!(h.contains(want), "{want} in {h}");
        }
    }

    /// Every tag in `html`, as (name, attribute names).
    fn tags(html: &str) -> Vec<(String, Vec<String>)> {
        html.split('<')
            .skip(1)
            .map(|t| {
                let t = &t[..t.find('>').expect("a tag ends")];
                // Quoted values out (the parser and ammonia always quote).
                let t: String = t.split('"').step_by(2).collect::<Vec<_>>().join("");
                let mut words = t.trim_start_matches('/').split_whitespace();
                let name = words.next().unwrap_or_default().to_owned();
                (name, words.map(|a| a.split('=').next().unwrap_or_default().to_owned()).collect())
            })
            .collect()
    }

    #[test]
    fn nothing_of_the_agents_html_survives() {
        let md = "<script>alert(1)</script>\n\nhi <img src=x onerror=alert(2)> <b onclick=x>b</b>\n\n\
            [j](javascript:alert(3)) [d](data:text/html,x) [r](/api/tokens) [ok](https://example.com/a?b=1)\n\n\
            ![img](https://example.com/p.png)\n\n<div style=\"x\">\n<iframe src=https://e.com></iframe>\n</div>\n\n\
            <a href=\"javascript:alert(4)\">raw</a> [x](<javascript:alert(5)>) [y](JaVaScRiPt:alert(6))\n";
        let h = to_html(md);
        for (name, attrs) in tags(&h) {
            assert!(super::TAGS.contains(&name.as_str()), "<{name}> in {h}");
            for a in attrs {
                assert!(
                    ["href", "target", "rel", "start"].contains(&a.as_str()),
                    "{a} on <{name}> in {h}"
                );
            }
        }
        let lower = h.to_lowercase();
        assert!(
            !lower.contains("<a href=\"javascript")
                && !lower.contains("<a href=\"data")
                && !lower.contains("<a href=\"/"),
            "{h}"
        );
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
        assert!(h.contains("&lt;img src=x onerror=alert(2)&gt;"), "{h}");
        let link = |url: &str, text: &str| {
            format!(
                "<a href=\"{url}\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">{text}</a>"
            )
        };
        assert!(h.contains(&link("https://example.com/a?b=1", "ok")), "{h}");
        // An image is a link to it: nothing is fetched.
        assert!(h.contains(&link("https://example.com/p.png", "img")), "{h}");
    }
}
