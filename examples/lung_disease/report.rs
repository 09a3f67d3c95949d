//! The printed report: the network against the rule on the test people, what the first layer
//! learnt, each input's effect on the prediction, and four example people.

use std::error::Error;

use surefire::prelude::*;

use crate::cohort::{Person, Scaler};

/// The inputs' names, in the network's order.
const FEATURES: [&str; 4] = ["age", "smoking", "area", "history"];

/// The accuracy (a chance above 0.5 read as "sick") and the mean squared error of `chances`.
pub fn accuracy_and_mse(chances: &[f64], sick: &[bool]) -> (f64, f64) {
    let n = chances.len() as f64;
    let hits = chances
        .iter()
        .zip(sick)
        .filter(|&(&p, &s)| (p > 0.5) == s)
        .count();
    let mse = chances
        .iter()
        .zip(sick)
        .map(|(&p, &s)| (p - f64::from(u8::from(s))).powi(2))
        .sum::<f64>()
        / n;
    (hits as f64 / n, mse)
}

/// Prints the whole report for the trained `model`; `x_test` is `test` standardised.
pub fn print(
    model: &Mlp,
    scaler: &Scaler,
    x_test: &Tensor,
    test: &[Person],
    sick: &[bool],
) -> Result<(), Box<dyn Error>> {
    against_the_rule(model, x_test, test, sick);
    first_layer(model);
    effects(model, scaler, x_test)?;
    example_people(model, scaler)
}

/// The network's accuracy and MSE on the test people beside the rule's, the ceiling.
fn against_the_rule(model: &Mlp, x_test: &Tensor, test: &[Person], sick: &[bool]) {
    let predicted: Vec<f64> = no_grad(|| model.forward(x_test))
        .to_vec()
        .into_iter()
        .map(f64::from)
        .collect();
    let rule: Vec<f64> = test.iter().map(Person::true_chance).collect();
    let (acc, mse) = accuracy_and_mse(&predicted, sick);
    let (rule_acc, rule_mse) = accuracy_and_mse(&rule, sick);
    println!("\nOn the {} test people:", test.len());
    println!("                           accuracy     MSE");
    println!("  network                  {:>7.2}%  {mse:.5}", 100.0 * acc);
    println!(
        "  ground-truth rule        {:>7.2}%  {rule_mse:.5}   (the ceiling: the rule that made the data)",
        100.0 * rule_acc
    );
    println!(
        "  gap to the ceiling       {:>7.2} points",
        100.0 * (rule_acc - acc)
    );
}

/// The first layer's weights, one row per input.
fn first_layer(model: &Mlp) {
    let first = &model.layers()[0];
    let weights = first.weight().tensor().to_vec();
    let width = first.outputs();
    println!("\nFirst-layer weights (rows: standardised inputs, columns: hidden units):");
    for (j, name) in FEATURES.iter().enumerate() {
        let row: Vec<String> = (0..width)
            .map(|k| format!("{:>6.2}", weights[j * width + k]))
            .collect();
        println!("  {name:<8} {}", row.join(" "));
    }
    println!(
        "Each weight says how strongly one standard deviation of an input pushes a hidden unit; the\n\
         units' signs are arbitrary, so read the effect of each input on the prediction instead:"
    );
}

/// The average derivative of the predicted chance with respect to each raw input, by
/// backward through the network (dp/draw = dp/dstandardised / std).
fn effects(model: &Mlp, scaler: &Scaler, x_test: &Tensor) -> Result<(), Box<dyn Error>> {
    let x = x_test.detach().require_grad();
    let grads = model.forward(&x).sum().backward();
    let slopes = grads
        .get(&x)
        .ok_or("the inputs are a leaf of the graph")?
        .mean_dim(0, false)
        .to_vec();
    let units = [
        "per year of age",
        "per cigarette a day",
        "per point of area pollution",
        "for a family history",
    ];
    for (j, unit) in units.iter().enumerate() {
        let effect = f64::from(slopes[j]) / scaler.std[j];
        println!("  {:+.2} points of predicted chance {unit}", 100.0 * effect);
    }
    Ok(())
}

/// The network's and the rule's chances for four people from the tutorial.
fn example_people(model: &Mlp, scaler: &Scaler) -> Result<(), Box<dyn Error>> {
    let person = |age, smoking, area, history| Person {
        age,
        smoking,
        area,
        history,
    };
    let named = [
        (
            "Ana, 25, never smoked, clean countryside, no family history",
            person(25.0, 0.0, 1.0, 0.0),
        ),
        (
            "Ben, 45, 10 cigarettes a day, suburb, no family history",
            person(45.0, 10.0, 5.0, 0.0),
        ),
        (
            "Chloe, 60, never smoked, polluted city, family history",
            person(60.0, 0.0, 9.0, 1.0),
        ),
        (
            "David, 70, 30 cigarettes a day, polluted city, family history",
            person(70.0, 30.0, 8.0, 1.0),
        ),
    ];
    println!("\nPredicted chance of lung disease:");
    let people: Vec<Person> = named.iter().map(|(_, p)| *p).collect();
    let x = scaler.transform(&people)?;
    let chances = no_grad(|| model.forward(&x)).to_vec();
    for ((name, person), chance) in named.iter().zip(chances) {
        println!(
            "  {name:<62} {:>5.1}%  (rule: {:>5.1}%)",
            100.0 * chance,
            100.0 * person.true_chance()
        );
    }
    Ok(())
}

/// The answer to `--predict`: the network's chance for `person`, beside the rule's.
pub fn prediction(person: &Person, chance: f32) {
    println!(
        "age {}, {} cigarettes a day, area pollution {}, family history {}: predicted chance of lung disease {:.1}% (the rule that made the data says {:.1}%)",
        person.age,
        person.smoking,
        person.area,
        if person.history == 1.0 { "yes" } else { "no" },
        100.0 * chance,
        100.0 * person.true_chance()
    );
}
