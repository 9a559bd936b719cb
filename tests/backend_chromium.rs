//! The HTML postmortem in a real browser: the fixed-seed demo incident, handled in the cockpit
//! (detected, rolled back, resolved), exported as HTML and rendered by headless Chromium (Debian's
//! package, which tests/backends/run.sh installs) to a PNG and to a PDF.
//! FLIGHTDECK_CHROMIUM names another binary; FLIGHTDECK_SCREENSHOT_DIR keeps what it rendered.

mod support;

use std::fs::{self, File};
use std::io::BufReader;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use flightdeck::incident::postmortem::{Options, Postmortem, html, load};
use support::Harness;

/// Tall enough for the header, the impact and the first charts.
const WINDOW: (u32, u32) = (1000, 3000);
/// Chromium renders a small static page in seconds; this only stops a hung browser.
const TIMEOUT: StdDuration = StdDuration::from_secs(120);

/// Runs Chromium on `page` with one output flag, waiting at most `TIMEOUT`.
fn chromium(workdir: &Path, page: &Path, output: &str) {
    let binary = std::env::var_os("FLIGHTDECK_CHROMIUM").unwrap_or_else(|| "chromium".into());
    let log_path = workdir.join("chromium.log");
    let log = File::create(&log_path).expect("a log file in the temp dir");
    let mut child = Command::new(&binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        // A profile of its own, so the run neither reads nor writes the user's.
        .arg(format!(
            "--user-data-dir={}",
            workdir.join("profile").display()
        ))
        .arg(output)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {binary:?} (install chromium or set FLIGHTDECK_CHROMIUM): {e}")
        });
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("chromium's status") {
            assert!(
                status.success(),
                "{binary:?} {output} failed ({status}); its log:\n{}",
                fs::read_to_string(&log_path).unwrap_or_default()
            );
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary:?} {output} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

/// The `#rrggbb` stroke of the first polyline: the chart's line colour, read from the chart
/// itself so the test follows it.
fn line_colour(svg: &str) -> [u8; 3] {
    let polyline = &svg[svg.find("<polyline").expect("a polyline")..];
    let hex = &polyline[polyline.find("stroke=\"#").expect("a stroke colour") + 9..][..6];
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex colour");
    [byte(0), byte(2), byte(4)]
}

/// The screenshot's size and its pixels as RGB.
fn decode(png_path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = File::open(png_path).expect("the screenshot");
    let mut reader = png::Decoder::new(BufReader::new(file))
        .read_info()
        .expect("a PNG header");
    let mut buf = vec![
        0;
        reader
            .output_buffer_size()
            .expect("a PNG that fits in memory")
    ];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    let channels = match (info.color_type, info.bit_depth) {
        (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
        (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
        other => panic!("a screenshot in {other:?}, expected 8-bit RGB(A)"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

#[test]
#[ignore = "needs chromium; run by tests/backends/run.sh"]
fn the_demo_incidents_postmortem_renders_to_png_and_pdf_in_headless_chromium() {
    let mut h = Harness::new("prompt-regression");
    h.handle_prompt_incident();
    let id = h.app.incident.as_ref().expect("an incident").id.clone();
    let record = load::load(h.data_dir(), &id).expect("the incident's record");
    let page = html::render(&Postmortem::build(&record, &Options::default()));
    let dir = tempfile::tempdir().expect("a temp dir");
    let html_path = dir.path().join("postmortem.html");
    fs::write(&html_path, &page).expect("the page written");
    let png_path = dir.path().join("postmortem.png");
    let pdf_path = dir.path().join("postmortem.pdf");
    chromium(
        dir.path(),
        &html_path,
        &format!("--screenshot={}", png_path.display()),
    );
    chromium(
        dir.path(),
        &html_path,
        &format!("--print-to-pdf={}", pdf_path.display()),
    );

    if let Some(keep) = std::env::var_os("FLIGHTDECK_SCREENSHOT_DIR") {
        let keep = Path::new(&keep);
        fs::create_dir_all(keep).expect("FLIGHTDECK_SCREENSHOT_DIR can be made");
        for file in [&png_path, &pdf_path, &html_path] {
            let to = keep.join(file.file_name().expect("a file name"));
            fs::copy(file, &to).expect("a copy in FLIGHTDECK_SCREENSHOT_DIR");
            eprintln!("kept {}", to.display());
        }
    }

    let (width, height, pixels) = decode(&png_path);
    assert_eq!((width, height), WINDOW);
    // Anti-aliasing blends the line's edges; its middle keeps the colour within a few levels.
    let colour = line_colour(&page);
    let on_line = pixels
        .iter()
        .filter(|p| p.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 8))
        .count();
    assert!(
        on_line > 500,
        "only {on_line} pixels of the line colour {colour:?}: the charts did not render"
    );

    let pdf = fs::read(&pdf_path).expect("the PDF");
    assert!(
        pdf.starts_with(b"%PDF"),
        "not a PDF: {:?}",
        &pdf[..pdf.len().min(16)]
    );
}
