//! "Your rights and how to use them": what consent means here, how to give, withdraw and ask
//! with the wallet, delegation, and the vocabulary in plain words.

use maud::{Markup, html};

use super::{Frame, Page, layout};
use crate::transparency::view::Vocabulary;

/// "Your rights and how to use them", from the vocabulary.
pub(crate) fn rights(frame: &Frame, v: &Vocabulary) -> Markup {
    let body = html! {
        h1 { "Your rights and how to use them" }
        p {
            "My data, my choice: an organisation on this network may store data about you only "
            "for the purposes and the kinds of data you agreed to, for as long as you agreed, "
            "and only while your consent stands."
        }
        h2 { "How to give, withdraw and ask" }
        p { "You sign with the " code { "consent" } " wallet; nobody can sign for you." }
        dl {
            dt { "Start" } dd { code { "consent wallet init" } " creates your keys, protected by a passphrase." }
            dt { "Read a policy" } dd { code { "consent policy COLLECTOR" } }
            dt { "Give consent" } dd {
                code { "consent grant COLLECTOR --purpose service-provision --category location" }
            }
            dt { "Consent to less" } dd {
                "Only some of its zones, sensors or hours, or only in a more protective form: "
                code { "consent grant COLLECTOR --purpose billing --category vehicle --zone 1 --hours 08:00-18:00 --form billing=pseudonymised --replace" }
                ". A check is allowed when any of your grants allows it, so a wider grant you "
                "signed before keeps allowing all it did: "
                code { "--replace" }
                " revokes it in the same step (the whole of it), or revoke it yourself with "
                code { "consent revoke GRANT" }
                "."
            }
            dt { "See your consents" } dd { code { "consent list" } }
            dt { "Withdraw it" } dd { code { "consent revoke GRANT" } ", takes effect at once on every node." }
            dt { "Withdraw and erase" } dd { code { "consent revoke GRANT --erase" } }
            dt { "Ask for something" } dd { code { "consent request COLLECTOR erasure" } }
        }
        h2 { "Someone to help you, and children" }
        p {
            "You can let someone you trust sign some statements in your name: they run "
            code { "consent wallet delegate-offer --name YOU" }
            " and give you the code it prints; you run "
            code { "consent wallet delegate --to CODE --can grant,revoke" }
            ". They then sign in their own feed, naming you: "
            code { "consent --as YOU grant COLLECTOR …" }
            ". You can still do everything yourself, revoke anything they signed, and end the "
            "delegation at any time with "
            code { "consent wallet undelegate --all" }
            " (or one delegation by its id); what they sign afterwards does not count. A parent "
            "keeps a child's wallet ("
            code { "consent wallet init --child --comes-of-age DATE --name CHILD" }
            ") until the child comes of age; from that moment on, only the child signs."
        }
        p {
            "The collector must answer a request with a signed acknowledgement; how fast each "
            "one answers is public on its page."
        }
        h2 { "What you can ask for" }
        dl { @for t in &v.requests { dt { (t.name) } dd { (t.meaning) } } }
        h2 { "Purposes a collector may ask consent for" }
        dl { @for t in &v.purposes { dt { (t.name) } dd { (t.meaning) } } }
        h2 { "Kinds of data" }
        dl { @for t in &v.categories { dt { (t.name) } dd { (t.meaning) } } }
    };
    layout(frame, Page::Rights, "Your rights", body)
}
