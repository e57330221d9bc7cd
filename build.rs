//! Embeds the page's assets (web/) with content-hashed names, so they can be
//! cached forever: a changed file gets a new name, and so does every module
//! that imports it (imports are rewritten to the hashed names before hashing).
//! No JavaScript build step here: the page is plain ES modules, and the
//! third-party renderers are ES modules bundled by `web-src/build.mjs` and
//! kept in `web/js/` (so building needs no Node).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let web = Path::new("web");
    println!("cargo:rerun-if-changed=web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let assets_dir = out.join("assets");
    // Start empty: only this build's assets may be embedded.
    let _ = std::fs::remove_dir_all(&assets_dir);
    std::fs::create_dir_all(&assets_dir).expect("create OUT_DIR/assets");

    // Every file under web/ except the page itself, by its path relative to web/.
    let mut sources = BTreeMap::new();
    collect(web, web, &mut sources);
    let page = sources
        .remove("index.html")
        .expect("web/index.html is missing");

    // Name → hashed name, and name → its bytes with imports rewritten.
    let mut hashed: BTreeMap<String, String> = BTreeMap::new();
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let names: Vec<String> = sources.keys().cloned().collect();
    for name in &names {
        hash_name(name, &sources, &mut hashed, &mut bodies, &mut Vec::new());
    }

    let mut table = String::from(
        "/// (hashed name, content type, bytes, gzipped bytes or empty)\npub static ASSETS: &[(&str, &str, &[u8], &[u8])] = &[\n",
    );
    for (name, hashed_name) in &hashed {
        let body = &bodies[name];
        let path = assets_dir.join(hashed_name);
        std::fs::write(&path, body).expect("write asset");
        // Kept only when it saves something (not for tiny files).
        let gz = gzip(body);
        let gz = if gz.len() + 64 < body.len() {
            gz
        } else {
            Vec::new()
        };
        let gz_path = assets_dir.join(format!("{hashed_name}.gz"));
        std::fs::write(&gz_path, &gz).expect("write gzipped asset");
        writeln!(
            table,
            "    ({hashed_name:?}, {:?}, include_bytes!({:?}), include_bytes!({:?})),",
            content_type(name),
            path.display().to_string(),
            gz_path.display().to_string()
        )
        .unwrap();
    }
    table.push_str("];\n");

    // The page names its assets by `{{path}}`, relative to web/.
    let mut html = String::from_utf8(page).expect("index.html is UTF-8");
    for (name, hashed_name) in &hashed {
        html = html.replace(&format!("{{{{{name}}}}}"), &format!("assets/{hashed_name}"));
    }
    if let Some(at) = html.find("{{") {
        panic!(
            "web/index.html names an unknown asset: {}",
            &html[at..(at + 40).min(html.len())]
        );
    }
    let page_path = out.join("index.html");
    std::fs::write(&page_path, html).expect("write index.html");
    writeln!(
        table,
        "pub static INDEX_HTML: &str = include_str!({:?});",
        page_path.display().to_string()
    )
    .unwrap();
    std::fs::write(out.join("assets.rs"), table).expect("write assets.rs");
}

fn collect(root: &Path, dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read web/")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(root, &p, into);
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            into.insert(rel, std::fs::read(&p).expect("read asset"));
        }
    }
}

/// `js/app.js` → `app.1a2b3c4d5e6f7a8b.js`, after its imports got their own names.
fn hash_name(
    name: &str,
    sources: &BTreeMap<String, Vec<u8>>,
    hashed: &mut BTreeMap<String, String>,
    bodies: &mut BTreeMap<String, Vec<u8>>,
    stack: &mut Vec<String>,
) -> String {
    if let Some(h) = hashed.get(name) {
        return h.clone();
    }
    if stack.iter().any(|s| s == name) {
        panic!("import cycle in web/: {stack:?} -> {name}");
    }
    stack.push(name.to_owned());
    for dep in imports(name, &sources[name]) {
        assert!(
            sources.contains_key(&dep),
            "{name} imports {dep}, which is not in web/"
        );
        hash_name(&dep, sources, hashed, bodies, stack);
    }
    stack.pop();
    let body = rewrite(name, &sources[name], hashed);
    let file = name.rsplit('/').next().unwrap();
    let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
    let h = format!("{stem}.{:016x}.{ext}", fnv1a(&body));
    hashed.insert(name.to_owned(), h.clone());
    bodies.insert(name.to_owned(), body);
    h
}

/// Relative imports of a module: `'./x.js'` / `"./x.js"`, same folder only.
fn imports(name: &str, body: &[u8]) -> Vec<String> {
    if !name.ends_with(".js") {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(body);
    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
    let mut deps = Vec::new();
    for quote in ['\'', '"'] {
        let open = format!("{quote}./");
        let mut rest: &str = &text;
        while let Some(at) = rest.find(&open) {
            rest = &rest[at + open.len()..];
            if let Some(end) = rest.find(quote) {
                let file = &rest[..end];
                if file.ends_with(".js") && !file.contains('/') {
                    let dep = if dir.is_empty() {
                        file.to_owned()
                    } else {
                        format!("{dir}/{file}")
                    };
                    if !deps.contains(&dep) {
                        deps.push(dep);
                    }
                }
            }
        }
    }
    deps
}

fn rewrite(name: &str, body: &[u8], hashed: &BTreeMap<String, String>) -> Vec<u8> {
    let deps = imports(name, body);
    if deps.is_empty() {
        return body.to_vec();
    }
    let mut text = String::from_utf8(body.to_vec()).expect("JS is UTF-8");
    for dep in deps {
        let file = dep.rsplit('/').next().unwrap();
        let to = &hashed[&dep];
        for q in ['\'', '"'] {
            text = text.replace(&format!("{q}./{file}{q}"), &format!("{q}./{to}{q}"));
        }
    }
    text.into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
