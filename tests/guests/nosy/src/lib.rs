//! A std IVR node that tries to reach outside its sandbox through WASI and
//! reports what it found, one `text` prompt per probe. The host gives std
//! guests an empty WASI context, so every probe must come back empty.
use madoguchi_sdk::node::{Ctx, Node};
use madoguchi_sdk::prompt;
use madoguchi_sdk::NoConfig;

pub struct Nosy;

fn probes() -> Vec<String> {
    let file = match std::fs::read("/etc/passwd") {
        Ok(b) => format!("file:read {} bytes", b.len()),
        Err(_) => "file:denied".to_string(),
    };
    let dir = match std::fs::read_dir("/") {
        Ok(d) => format!("dir:{} entries", d.count()),
        Err(_) => "dir:denied".to_string(),
    };
    let env = format!("env:{}", std::env::vars().count());
    let args = format!("args:{}", std::env::args().count());
    let tcp = match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => "tcp:connected".to_string(),
        Err(_) => "tcp:denied".to_string(),
    };
    let dns = match std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)) {
        Ok(mut a) => format!("dns:{}", a.next().map(|_| "resolved").unwrap_or("empty")),
        Err(_) => "dns:denied".to_string(),
    };
    // stdout is discarded; stderr is captured (bounded) for diagnostics.
    println!("nosy: printing to stdout");
    vec![file, dir, env, args, tcp, dns]
}

impl Node for Nosy {
    type Config = NoConfig;
    type State = ();

    fn entered(cx: &mut Ctx<Self>) -> Result<(), String> {
        cx.play(probes().iter().map(|p| prompt::text(p)));
        Ok(())
    }
}

madoguchi_sdk::export_node!(Nosy);
