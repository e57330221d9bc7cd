//! The shape of swe-swe-finder's generated project, shared with
//! `examples/search_instructions.rs --finder-tree`.

/// Folder of file `i`: one to four levels, as in real projects.
pub fn folder(i: usize) -> String {
    match i % 4 {
        0 => format!("src/m{}", i % 97),
        1 => format!("src/m{}/sub{}", i % 97, i % 13),
        2 => format!("lib/p{}/src/a{}/b{}", i % 31, i % 11, i % 5),
        _ => format!("t{}", i % 41),
    }
}
