//! The operator's console on the admin listener: its JSON API and its
//! pages against a real journal.

mod api;
mod chromium;
mod pages;
mod web;

use std::net::SocketAddr;

use crate::common::cluster;
use crate::softdelete::shop::Shop;

/// The token the console tests start consoles with.
pub const TOKEN: &str = "console-token-0123456789";

/// A shop whose proxy serves the console (with `token`, if given) and
/// journals its refusals; and the admin listener's address.
pub async fn shop(token: Option<&str>) -> (Shop, SocketAddr) {
    let token = token.map(|t| softdel::console::Token::new(t).unwrap());
    let shop = Shop::open_with(|config, database| {
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
        config.console_url = Some(cluster().url(database));
        config.console_token = token;
        config.journal_url = Some(cluster().url(database));
    })
    .await;
    let admin = shop.proxy.admin.expect("the admin listener");
    (shop, admin)
}
