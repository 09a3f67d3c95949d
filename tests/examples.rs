//! Every example runs, in a short mode where it has one, and its files and key numbers are
//! checked, so no example can rot unnoticed. Each is run through `cargo run` (the test build
//! has already compiled the examples, so this only starts them).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `cargo run --example name -- args`.
fn cargo_run(name: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", name, "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs")
}

/// Runs `cargo run --example name -- args`, returning stdout; panics with stderr on failure.
fn run(name: &str, args: &[&str]) -> String {
    let output = cargo_run(name, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `cargo run --example name -- args`, returning stderr; panics if it succeeds.
fn run_failing(name: &str, args: &[&str]) -> String {
    let output = cargo_run(name, args);
    assert!(
        !output.status.success(),
        "example {name} {args:?} succeeded:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh, empty folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surefire-example-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

fn assert_valid_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("path"))
            .count()
            >= 2
    );
}

/// The number after `label` on the line that contains it.
fn number_after(text: &str, label: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no line with {label:?} in:\n{text}"));
    let rest = &line[line.find(label).expect("found above") + label.len()..];
    let token = rest.split_whitespace().next().expect("a number follows");
    token
        .trim_end_matches(['%', ','])
        .parse()
        .unwrap_or_else(|_| panic!("{token:?} in {line:?}"))
}

#[test]
fn sigmoid_plot_writes_a_valid_svg_and_png() {
    let dir = scratch("sigmoid");
    let out = run(
        "sigmoid_plot",
        &["--out", dir.to_str().expect("utf-8 path")],
    );
    // The example checks sigmoid(0) = 0.5, the monotone curve, the 0.25 peak and s(1 - s) to
    // 1e-6 itself and fails otherwise; its report states them.
    assert!(
        out.contains("sigmoid(0) = 0.5, its derivative there (by backward) = 0.25"),
        "{out}"
    );
    assert!(
        out.contains("the largest derivative on the grid is 0.249842"),
        "{out}"
    );
    assert_valid_svg(&dir.join("sigmoid.svg"));
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(dir.join("sigmoid.png")).expect("png written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).expect("the image decodes");
    assert_eq!((frame.width, frame.height), (800, 500));
    // Not blank: the curves are drawn in colour on white.
    assert!(
        pixels[..frame.buffer_size()]
            .chunks(3)
            .any(|px| px[0] > 200 && px[1] < 80 && px[2] < 80),
        "red pixels"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn xor_learns_all_four_cases() {
    let out = run("xor", &[]);
    assert!(out.contains("4/4 correct"), "{out}");
}

#[test]
fn higher_order_newton_converges_and_beats_gradient_descent() {
    let out = run("higher_order", &["--gd-steps", "500"]);
    assert!(out.contains("converged in"), "{out}");
    let iterations = number_after(&out, "converged in");
    assert!(iterations < 50.0, "{out}");
}

#[test]
fn breast_cancer_mlp_reaches_93_percent() {
    let out = run("breast_cancer", &[]);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string()
    };
    let test_accuracy = |line: String| -> f64 {
        line.split_whitespace()
            .last()
            .expect("columns")
            .parse()
            .expect("a number")
    };
    let mlp = test_accuracy(line("MLP 30-16-1"));
    let baseline = test_accuracy(line("logistic regression"));
    assert!(mlp >= 0.93, "MLP test accuracy {mlp}\n{out}");
    assert!(baseline >= 0.90, "baseline test accuracy {baseline}\n{out}");
}

#[test]
fn lung_disease_trains_near_the_ceiling_saves_and_predicts() {
    let dir = scratch("lung");
    let path = dir.to_str().expect("utf-8 path");
    let out = run("lung_disease", &["--out", path, "--graph"]);
    let gap = number_after(&out, "gap to the ceiling");
    assert!(gap <= 2.0, "accuracy gap to the rule {gap} points\n{out}");
    assert!(number_after(&out, "network") > 75.0, "{out}");
    // The tutorial's young non-smoker is near zero, the older smoker with history is high.
    let ana = number_after(&out, "clean countryside, no family history");
    assert!(ana < 5.0, "{out}");
    let david = number_after(&out, "30 cigarettes a day, polluted city, family history");
    assert!(david > 80.0, "{out}");
    assert_valid_svg(&dir.join("lung_disease_loss.svg"));
    let dot = std::fs::read_to_string(dir.join("lung_disease_graph.dot")).expect("graph written");
    assert!(
        dot.contains("0.weight") && dot.contains("linear") && dot.contains("sigmoid"),
        "{dot}"
    );
    // The saved model answers for one person.
    let answer = run("lung_disease", &["--out", path, "--predict", "25,0,1,0"]);
    assert!(
        number_after(&answer, "predicted chance of lung disease") < 5.0,
        "{answer}"
    );
    // Two runs print the same numbers.
    let again = run("lung_disease", &["--out", path, "--graph"]);
    assert_eq!(out, again);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn autodiff_basics_matches_finite_differences() {
    let out = run("autodiff_basics", &[]);
    assert!(
        out.contains("finite differences: [0.341843, 0.443426, 0.499069]"),
        "{out}"
    );
    assert!(
        out.contains("finite differences of the gradient: [0.208435, 0.298315, 0.206504]"),
        "{out}"
    );
}

#[test]
fn bad_arguments_name_the_flag_and_the_value_and_help_lists_the_flags() {
    let help = run("lung_disease", &["--help"]);
    for flag in [
        "--epochs",
        "--lr",
        "--hidden",
        "--batch",
        "--people",
        "--seed",
        "--out",
        "--graph",
        "--predict",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    let cases: [(&str, &[&str], &str); 5] = [
        ("lung_disease", &["--epochs", "many"], "--epochs \"many\""),
        ("lung_disease", &["--hidden", "8,0"], "--hidden \"8,0\""),
        (
            "lung_disease",
            &["--predict", "67,20"],
            "--predict \"67,20\"",
        ),
        ("xor", &["--seed", "-1"], "--seed \"-1\""),
        ("sigmoid_plot", &["--colour"], "'--colour'"),
    ];
    for (name, args, expected) in cases {
        let stderr = run_failing(name, args);
        assert!(stderr.contains(expected), "{name} {args:?}: {stderr}");
    }
}

#[test]
fn custom_op_passes_the_kit_and_recovers_the_parameters() {
    let out = run("custom_op", &[]);
    assert!(
        out.contains("first and second derivatives match finite differences"),
        "{out}"
    );
    assert!(number_after(&out, "largest difference") < 1e-15, "{out}");
    // Softsign(w x + b) fitted to data made with w = 2, b = -1.
    assert!(
        number_after(&out, "largest parameter error:") < 1e-4,
        "{out}"
    );
}

#[test]
fn physics_informed_learns_sine_from_the_equation_alone() {
    // A short run (the test build is unoptimised); the default run reaches about 3e-4.
    let out = run("physics_informed", &["--steps", "400"]);
    let error = number_after(&out, "max |u(x) - sin(x)| on [0, π]:");
    assert!(error < 2e-2, "{out}");
    let half = number_after(&out, "u(π/2) =");
    assert!((half - 1.0).abs() < 2e-2, "{out}");
}

#[test]
fn char_lm_trains_saves_samples_and_reports_the_bigram_baseline() {
    let dir = scratch("char-lm");
    let path = dir.to_str().expect("utf-8 path");
    let small = [
        "--out",
        path,
        "--steps",
        "30",
        "--eval-every",
        "15",
        "--batch",
        "8",
        "--context",
        "16",
        "--width",
        "32",
        "--heads",
        "2",
        "--mlp",
        "64",
        "--blocks",
        "1",
        "--warmup",
        "5",
        "--length",
        "60",
    ];
    let out = run("char_lm", &small);
    let last = out.lines().last().expect("output");
    assert!(
        last.starts_with("validation loss: ")
            && last.contains(" nats per character (bigram baseline: "),
        "{out}"
    );
    // The baseline counts pairs of the fixed split: the same number on any machine.
    let baseline = last
        .rsplit("baseline: ")
        .next()
        .map(|b| b.trim_end_matches(')'));
    assert_eq!(baseline, Some("2.4819"), "{out}");
    // Two evaluations, each with both losses; the loss falls from the uniform guess's ln 65.
    assert_eq!(out.matches("validation ").count(), 3, "{out}");
    assert!(number_after(last, "validation loss:") < 65f64.ln(), "{out}");
    assert!(
        out.contains("Sample (seed 1337, temperature 0.8):\n\nROMEO:"),
        "{out}"
    );
    assert_valid_svg(&dir.join("char_lm_loss.svg"));
    // The same numbers and the same sample on a second run.
    assert_eq!(out, run("char_lm", &small));
    // The saved model samples without training, after any prompt of known characters.
    let sample = run(
        "char_lm",
        &["--out", path, "--generate", "JULIET:", "--length", "40"],
    );
    let text = sample
        .split("JULIET:")
        .nth(1)
        .unwrap_or_else(|| panic!("no sample in:\n{sample}"));
    assert_eq!(text.trim_end_matches('\n').chars().count(), 40, "{sample}");
    let unknown = run_failing("char_lm", &["--out", path, "--generate", "日本"]);
    assert!(
        unknown.contains("the character '日' is not in the vocabulary"),
        "{unknown}"
    );
    let heads = run_failing("char_lm", &["--width", "30", "--heads", "4"]);
    assert!(
        heads.contains("--heads 4 must divide --width 30"),
        "{heads}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn digits_cnn_beats_the_mlp_and_draws_its_mistakes() {
    let dir = scratch("digits-cnn");
    let path = dir.to_str().expect("utf-8 path");
    // A short run (the test build is unoptimised); the default 40 epochs reach about 98.6%
    // for the CNN and 98.1% for the MLP.
    let short = ["--out", path, "--epochs", "3"];
    let out = run("digits_cnn", &short);
    let last = out.lines().last().expect("output");
    assert!(last.starts_with("test accuracy: CNN "), "{out}");
    let (cnn, mlp) = (number_after(last, "CNN"), number_after(last, "MLP"));
    assert!(cnn > 90.0 && cnn > mlp, "{out}");
    assert!(out.contains("1438 for training, 359 for testing"), "{out}");
    assert!(out.contains("CNN confusion matrix"), "{out}");
    assert_valid_svg(&dir.join("digits_cnn_loss.svg"));
    let grid = std::fs::read_to_string(dir.join("digits_cnn_mistakes.svg")).expect("the grid");
    let doc = roxmltree::Document::parse(&grid).expect("the grid is XML");
    // 64 cells and a frame per misclassified digit, over the background.
    let wrong = (359.0 * (1.0 - cnn / 100.0)).round() as usize;
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("rect")).count(),
        1 + 65 * wrong
    );
    assert!(dir.join("digits_cnn.safetensors").exists());
    // Seeded: the same numbers on a second run.
    assert_eq!(out, run("digits_cnn", &short));
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "0,1,2\n").expect("write");
    let err = run_failing(
        "digits_cnn",
        &["--data", bad.to_str().expect("utf-8"), "--out", path],
    );
    assert!(err.contains("line 1: 3 fields, expected 65"), "{err}");
}

#[test]
fn data_parallel_matches_one_process_and_resumes_on_another_number_of_ranks() {
    let dir = scratch("data-parallel");
    let path = dir.to_str().expect("utf-8 path");
    let small = |ranks: &'static str| {
        [
            "--people", "1000", "--epochs", "3", "--ranks", ranks, "--out", path,
        ]
    };
    let metrics = |out: &str| {
        let last = out.lines().last().expect("output").to_string();
        assert!(last.starts_with("test accuracy "), "{out}");
        last.split(" (").next().expect("metrics").to_string()
    };
    let one = run("data_parallel", &small("1"));
    let four = run("data_parallel", &small("4"));
    // The same global batches, averaged gradients: the same model to the printed digits.
    assert_eq!(metrics(&one), metrics(&four), "{one}\n{four}");
    assert_eq!(four.matches(" samples/s").count(), 4, "{four}");
    let checkpoint = dir.join("data_parallel.safetensors");
    assert!(checkpoint.exists());
    // Resumed from the 4-rank checkpoint, on 2 ranks and on 1.
    let resume = |ranks: &'static str| {
        let c = checkpoint.to_str().expect("utf-8").to_string();
        let out = dir.join(format!("resumed-{ranks}"));
        run(
            "data_parallel",
            &[
                "--people",
                "1000",
                "--epochs",
                "1",
                "--ranks",
                ranks,
                "--resume",
                &c,
                "--out",
                out.to_str().expect("utf-8"),
            ],
        )
    };
    assert_eq!(metrics(&resume("2")), metrics(&resume("1")));
    let err = run_failing("data_parallel", &["--ranks", "3", "--out", path]);
    assert!(
        err.contains("--batch 64 must be a multiple of the 3 ranks"),
        "{err}"
    );
}
