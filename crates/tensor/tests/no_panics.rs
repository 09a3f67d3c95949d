//! No fallible path panics: random op sequences on random shapes (zero-size and mismatched
//! ones included) and random values (NaN, infinities, signed zeros, subnormals), then
//! backward passes, answer every call with Ok or Err. The fuzz corpus is replayed here too, so
//! CI runs every input the fuzzer saved without the fuzzer.

mod opseq;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_op_sequences_never_panic(program in prop::collection::vec(any::<u8>(), 0..400)) {
        opseq::run(&program);
    }
}

#[test]
fn programs_exercise_both_outcomes() {
    // A fixed pseudo-random program: some ops succeed, some are rejected.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let program: Vec<u8> = (0..4000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let (mut ok, mut err) = (0, 0);
    for chunk in program.chunks(200) {
        let (o, e) = opseq::run(chunk);
        ok += o;
        err += e;
    }
    assert!(ok > 50 && err > 50, "ok {ok}, err {err}");
}

#[test]
fn the_fuzz_corpus_replays_without_panic() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/op_sequence");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the op_sequence corpus is in the repository") {
        let path = entry.expect("a readable entry").path();
        opseq::run(&std::fs::read(&path).expect("a readable corpus file"));
        replayed += 1;
    }
    assert!(replayed > 0, "no corpus files in {}", dir.display());
}
