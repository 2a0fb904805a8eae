//! Go's `path.Match`, which `list_files` patterns follow.

/// Go's `path.Match`. `Err(())` is `ErrBadPattern`.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    validate_pattern(&p)?;
    Ok(match_from(&p, &n))
}

fn validate_pattern(p: &[char]) -> Result<(), ()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if i < p.len() && p[i] == '^' {
                    i += 1;
                }
                let mut first = true;
                loop {
                    if i >= p.len() {
                        return Err(());
                    }
                    if p[i] == ']' && !first {
                        i += 1;
                        break;
                    }
                    if p[i] == ']' && first {
                        return Err(());
                    }
                    first = false;
                    let lo = class_char(p, &mut i)?;
                    if i < p.len() && p[i] == '-' {
                        i += 1;
                        let hi = class_char(p, &mut i)?;
                        if hi < lo {
                            return Err(());
                        }
                    }
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn class_char(p: &[char], i: &mut usize) -> Result<char, ()> {
    if *i >= p.len() || p[*i] == '-' || p[*i] == ']' {
        return Err(());
    }
    if p[*i] == '\\' {
        *i += 1;
        if *i >= p.len() {
            return Err(());
        }
    }
    let c = p[*i];
    *i += 1;
    Ok(c)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    if p.is_empty() {
        return n.is_empty();
    }
    match p[0] {
        '*' => {
            // `*` never matches `/`.
            for k in 0..=n.len() {
                if k > 0 && n[k - 1] == '/' {
                    break;
                }
                if match_from(&p[1..], &n[k..]) {
                    return true;
                }
            }
            false
        }
        '?' => !n.is_empty() && n[0] != '/' && match_from(&p[1..], &n[1..]),
        '[' => {
            if n.is_empty() || n[0] == '/' {
                return false;
            }
            let c = n[0];
            let mut i = 1;
            let negate = i < p.len() && p[i] == '^';
            if negate {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            while i < p.len() && (p[i] != ']' || first) {
                first = false;
                let Ok(lo) = class_char(p, &mut i) else {
                    return false;
                };
                let mut hi = lo;
                if i < p.len() && p[i] == '-' {
                    i += 1;
                    let Ok(h) = class_char(p, &mut i) else {
                        return false;
                    };
                    hi = h;
                }
                if lo <= c && c <= hi {
                    matched = true;
                }
            }
            if matched == negate {
                return false;
            }
            match_from(&p[(i + 1).min(p.len())..], &n[1..])
        }
        '\\' if p.len() > 1 => !n.is_empty() && n[0] == p[1] && match_from(&p[2..], &n[1..]),
        c => !n.is_empty() && n[0] == c && match_from(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_like_go() {
        assert_eq!(glob_match("*.txt", "a.txt"), Ok(true));
        assert_eq!(glob_match("*.txt", "a.txt2"), Ok(false));
        assert_eq!(glob_match("a?c", "abc"), Ok(true));
        assert_eq!(glob_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(glob_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(glob_match("[", "x"), Err(()));
        assert_eq!(glob_match("\\*", "*"), Ok(true));
    }
}
