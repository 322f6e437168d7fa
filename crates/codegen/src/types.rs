//! What the lowering knows of each slot's type at each instruction, and
//! where it speculates: the type plan of one function.
//!
//! The lattice per slot is tiny: `Number` (the value is a number, so the
//! lowering holds it unboxed, as a float in a register) or `Any`. A slot is
//! a number when an instruction that always yields one wrote it (arithmetic,
//! a number constant), or when a check proved it: an arithmetic operand
//! that was not a number raised, so after the instruction it is one, and so
//! is the local it was copied from, and the one that was copied from
//! (`State::copies`). The lowering applies the same rule through
//! `State::refine`: were the two to disagree, it would assert.
//!
//! With speculation on, the plan also assumes what the type feedback says
//! (`abi::FEEDBACK_*` bits) and guards it, deoptimizing where it fails:
//! - an `Add` whose operands were only ever numbers is guarded to numbers
//!   (so its result is one), unless it saw something else or deoptimized;
//! - at a loop header, a slot that every back-edge brings in as a number
//!   but some entry (the code before the loop, an on-stack-replacement
//!   entry) does not is guarded once on entry, so the loop's body runs on
//!   floats with no checks at all.
//!
//! The states are a forward dataflow over the bytecode, computed to a fixed
//! point; the lowering keeps the same state instruction by instruction and
//! checks it against this plan (`transfer` is the one definition of what
//! each instruction does to types).

use std::collections::{BTreeMap, BTreeSet};

use bytecode::{FunctionFacts, Instruction, Op};
use runtime::abi;

/// What is known of a slot's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// A number: held unboxed.
    Number,
    /// Anything.
    Any,
}

impl Ty {
    fn meet(self, other: Ty) -> Ty {
        if self == Ty::Number && other == Ty::Number { Ty::Number } else { Ty::Any }
    }
}

/// The types of a frame's live slots before an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) types: Vec<Ty>,
    /// For each slot, the local it is an unchanged copy of (pushed by
    /// `GetLocal` in the same block), so that proving the copy a number
    /// proves the local one too.
    pub(crate) copies: Vec<Option<u32>>,
}

impl State {
    /// Whether this state knows all that `plan` (the plan's state at the
    /// same instruction) knows, and maybe more: the same slots and copies,
    /// and a number wherever `plan` has one. (The lowering learns what the
    /// plan cannot: that an inlined body returned a number.)
    pub(crate) fn refines(&self, plan: &State) -> bool {
        self.copies == plan.copies
            && self.types.len() == plan.types.len()
            && self
                .types
                .iter()
                .zip(&plan.types)
                .all(|(&ty, &planned)| planned == Ty::Any || ty == Ty::Number)
    }

    /// `depth` slots of unknown type.
    pub(crate) fn unknown(depth: u32) -> State {
        State { types: vec![Ty::Any; depth as usize], copies: vec![None; depth as usize] }
    }

    pub(crate) fn depth(&self) -> u32 {
        self.types.len() as u32
    }

    pub(crate) fn ty(&self, slot: u32) -> Ty {
        self.types[slot as usize]
    }

    pub(crate) fn push(&mut self, ty: Ty, copy: Option<u32>) {
        self.types.push(ty);
        self.copies.push(copy);
    }

    /// Push an unchanged copy of slot `slot` (`GetLocal`).
    pub(crate) fn push_copy(&mut self, slot: u32) {
        let ty = self.ty(slot);
        self.push(ty, Some(slot));
    }

    pub(crate) fn truncate(&mut self, depth: u32) {
        self.types.truncate(depth as usize);
        self.copies.truncate(depth as usize);
    }

    /// Slot `slot` now holds a new value of type `ty`: no slot is a copy of
    /// it any more.
    pub(crate) fn assign(&mut self, slot: u32, ty: Ty) {
        self.types[slot as usize] = ty;
        self.copies[slot as usize] = None;
        for copy in &mut self.copies {
            if *copy == Some(slot) {
                *copy = None;
            }
        }
    }

    /// Slot `slot` was proved a number: so was the local it copies, the
    /// local that one copies, and so on (a copy is always of a lower slot,
    /// and a chain holds one value: assigning a slot ends the chains
    /// through it). Returns those locals that were not known to be numbers.
    pub(crate) fn refine(&mut self, slot: u32) -> Vec<u32> {
        self.types[slot as usize] = Ty::Number;
        let mut proved = Vec::new();
        let mut link = self.copies[slot as usize];
        while let Some(local) = link {
            if std::mem::replace(&mut self.types[local as usize], Ty::Number) == Ty::Any {
                proved.push(local);
            }
            link = self.copies[local as usize];
        }
        proved
    }

    /// The state at a block's start: copies do not cross blocks.
    fn at_block_start(mut self) -> State {
        self.copies.iter_mut().for_each(|copy| *copy = None);
        self
    }

    fn meet(&mut self, other: &State) {
        for (mine, theirs) in self.types.iter_mut().zip(&other.types) {
            *mine = mine.meet(*theirs);
        }
    }
}

/// How an add (`Add`, `AddConstant`) or an equality (`Equal`, `NotEqual`)
/// is lowered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberKind {
    /// Both operands are known numbers.
    Numbers,
    /// Guarded to numbers (deoptimizing if not), as the feedback says.
    Guarded,
    /// Any operands: an add's numbers inline, strings and errors through
    /// the helper; an equality by its operands' types at run time.
    Generic,
}

/// What the plan needs to know of the function.
pub(crate) struct PlanInput<'a> {
    pub(crate) code: &'a [Instruction],
    pub(crate) facts: &'a FunctionFacts,
    /// Each constant's value if it is a number (the others are strings).
    pub(crate) numbers: &'a [Option<f64>],
    pub(crate) arity: u8,
    /// The feedback at each offset; `None`: do not speculate.
    pub(crate) feedback: Option<&'a [u8]>,
    /// An on-stack-replacement entry at this loop header, if any.
    pub(crate) entry_at: Option<usize>,
    /// The types of slot 0 and the arguments on entry, when known (an
    /// inlined callee's, from its caller); empty: unknown.
    pub(crate) entry_types: &'a [Ty],
}

impl PlanInput<'_> {
    /// The state at the function's entry.
    fn entry(&self) -> State {
        let mut state = State::unknown(1 + u32::from(self.arity));
        for (slot, &ty) in self.entry_types.iter().enumerate() {
            state.types[slot] = ty;
        }
        state
    }
}

/// The plan: the state before every instruction, and the speculations.
pub(crate) struct Plan {
    before: BTreeMap<usize, State>,
    /// Slots guarded to numbers on entry to each loop header.
    guarded: BTreeMap<usize, BTreeSet<u32>>,
    /// Add sites guarded to numbers.
    guarded_adds: BTreeSet<usize>,
    /// Equality sites guarded to numbers.
    guarded_equalities: BTreeSet<usize>,
}

impl Plan {
    pub(crate) fn new(input: &PlanInput<'_>) -> Plan {
        let mut plan = Plan {
            before: BTreeMap::new(),
            guarded: BTreeMap::new(),
            guarded_adds: BTreeSet::new(),
            guarded_equalities: BTreeSet::new(),
        };
        if let Some(feedback) = input.feedback {
            let sites = |ops: [Op; 2], expected: u8| -> BTreeSet<usize> {
                input
                    .code
                    .iter()
                    .filter(|ins| ops.contains(&ins.op))
                    .filter(|ins| {
                        feedback_at(feedback, ins.offset) & (SPOILED | expected) == expected
                    })
                    .map(|ins| ins.offset)
                    .collect()
            };
            // An add that never ran is assumed to add numbers, an equality
            // only once it compared them (`abi::FEEDBACK_NUMBERS`).
            plan.guarded_adds = sites([Op::Add, Op::AddConstant], 0);
            plan.guarded_equalities = sites([Op::Equal, Op::NotEqual], abi::FEEDBACK_NUMBERS);
        }
        plan.solve(input);
        let Some(feedback) = input.feedback else { return plan };
        // Loop headers: guard on entry what every back-edge brings in as a
        // number, then drop what the guards themselves do not sustain,
        // until nothing changes (each round only removes slots).
        for &header in &input.facts.loop_headers {
            let header = header as usize;
            if feedback_at(feedback, header) & abi::FEEDBACK_DEOPTED != 0 {
                continue;
            }
            let (entries, backs) = plan.incoming(input, header);
            let slots: BTreeSet<u32> = (0..backs.depth())
                .filter(|&slot| backs.ty(slot) == Ty::Number && entries.ty(slot) == Ty::Any)
                .collect();
            if !slots.is_empty() {
                plan.guarded.insert(header, slots);
            }
        }
        loop {
            plan.solve(input);
            let mut changed = false;
            let headers: Vec<usize> = plan.guarded.keys().copied().collect();
            for header in headers {
                let (_, backs) = plan.incoming(input, header);
                let slots = plan.guarded.get_mut(&header).expect("a guarded header");
                let before = slots.len();
                slots.retain(|&slot| backs.ty(slot) == Ty::Number);
                changed |= slots.len() != before;
                if slots.is_empty() {
                    plan.guarded.remove(&header);
                }
            }
            if !changed {
                return plan;
            }
        }
    }

    /// The state before the instruction at `offset`.
    pub(crate) fn before(&self, offset: usize) -> &State {
        &self.before[&offset]
    }

    /// The slots guarded to numbers on entry to the loop header at `offset`.
    pub(crate) fn guarded_at(&self, offset: usize) -> Option<&BTreeSet<u32>> {
        self.guarded.get(&offset)
    }

    /// How many slots are guarded to numbers at loop headers, for the
    /// trace.
    pub(crate) fn loop_numbers(&self) -> usize {
        self.guarded.values().map(BTreeSet::len).sum()
    }

    /// How the add or equality `instruction` is lowered, before it, in
    /// `state`.
    pub(crate) fn number_kind(
        &self,
        instruction: &Instruction,
        state: &State,
        numbers: &[Option<f64>],
    ) -> NumberKind {
        let depth = state.depth();
        let known = match instruction.op {
            Op::AddConstant => {
                if numbers[instruction.operand as usize].is_none() {
                    return NumberKind::Generic;
                }
                state.ty(depth - 1) == Ty::Number
            }
            _ => state.ty(depth - 2) == Ty::Number && state.ty(depth - 1) == Ty::Number,
        };
        let guarded = match instruction.op {
            Op::Equal | Op::NotEqual => &self.guarded_equalities,
            _ => &self.guarded_adds,
        };
        if known {
            NumberKind::Numbers
        } else if guarded.contains(&instruction.offset) {
            NumberKind::Guarded
        } else {
            NumberKind::Generic
        }
    }

    /// The states on entry to `header`: the meet of its entries (the code
    /// before it, or an entry of the compiled function) and of its back-edges.
    fn incoming(&self, input: &PlanInput<'_>, header: usize) -> (State, State) {
        let depth = input.facts.depth_at(header).expect("a verified header");
        let mut entries: Option<State> = None;
        let mut backs: Option<State> = None;
        let add = |into: &mut Option<State>, state: State| match into {
            Some(existing) => existing.meet(&state),
            None => *into = Some(state),
        };
        if header == 0 {
            add(&mut entries, input.entry());
        }
        if input.entry_at == Some(header) {
            add(&mut entries, State::unknown(depth));
        }
        for (from, state) in self.edges_into(input, header) {
            add(if from >= header { &mut backs } else { &mut entries }, state);
        }
        let unknown = State::unknown(depth);
        (entries.unwrap_or_else(|| unknown.clone()), backs.unwrap_or(unknown))
    }

    /// The states after each instruction that jumps or falls into the one at
    /// `target`, with the offset each comes from.
    fn edges_into(&self, input: &PlanInput<'_>, target: usize) -> Vec<(usize, State)> {
        let mut edges = Vec::new();
        for (index, instruction) in input.code.iter().enumerate() {
            let falls = falls_through(instruction.op) && instruction.next == target;
            let jumps = instruction.jump_target() == Some(target);
            if !(falls || jumps) {
                continue;
            }
            if let Some(before) = self.before.get(&instruction.offset) {
                let mut after = before.clone();
                transfer(self, input, &input.code[index], &mut after);
                edges.push((instruction.offset, after));
            }
        }
        edges
    }

    /// The states before every instruction, to a fixed point, with the
    /// current speculations.
    fn solve(&mut self, input: &PlanInput<'_>) {
        let targets: BTreeSet<usize> =
            input.code.iter().filter_map(Instruction::jump_target).collect();
        let entry = input.entry();
        let mut at_targets: BTreeMap<usize, State> = BTreeMap::new();
        loop {
            let mut changed = false;
            self.before.clear();
            let mut current: Option<State> = Some(entry.clone());
            for instruction in input.code {
                let offset = instruction.offset;
                if targets.contains(&offset) {
                    let depth = input.facts.depth_at(offset).expect("verified code");
                    let mut state = at_targets.get(&offset).cloned();
                    let mut join = |incoming: State| match &mut state {
                        Some(existing) => existing.meet(&incoming),
                        None => state = Some(incoming),
                    };
                    if let Some(falling) = current.take() {
                        join(falling);
                    }
                    if input.entry_at == Some(offset) {
                        join(State::unknown(depth));
                    }
                    let mut state = state.map(State::at_block_start);
                    if let (Some(state), Some(slots)) = (&mut state, self.guarded.get(&offset)) {
                        for &slot in slots {
                            state.types[slot as usize] = Ty::Number;
                        }
                    }
                    current = state;
                }
                // Code no entry reaches (before an on-stack-replacement
                // entry's header) keeps no state.
                let Some(mut state) = current.take() else { continue };
                self.before.insert(offset, state.clone());
                transfer(self, input, instruction, &mut state);
                if let Some(target) = instruction.jump_target() {
                    let entry = at_targets.entry(target);
                    match entry {
                        std::collections::btree_map::Entry::Vacant(vacant) => {
                            vacant.insert(state.clone().at_block_start());
                            changed = true;
                        }
                        std::collections::btree_map::Entry::Occupied(mut occupied) => {
                            let before = occupied.get().clone();
                            occupied.get_mut().meet(&state);
                            changed |= *occupied.get() != before;
                        }
                    }
                }
                if falls_through(instruction.op) {
                    current = Some(state);
                }
            }
            if !changed {
                return;
            }
        }
    }
}

/// Feedback bits that rule out guarding an add or an equality to numbers.
const SPOILED: u8 = abi::FEEDBACK_NOT_NUMBER | abi::FEEDBACK_DEOPTED;

fn feedback_at(feedback: &[u8], offset: usize) -> u8 {
    feedback.get(offset).copied().unwrap_or(0)
}

/// Whether control goes on to the next instruction after `op`.
pub(crate) fn falls_through(op: Op) -> bool {
    !matches!(op, Op::Jump | Op::Loop | Op::Return | Op::ReturnThis)
}

/// What `instruction` does to the types of `state` (before it; after it on
/// return). The lowering does exactly this, and checks it.
pub(crate) fn transfer(
    plan: &Plan,
    input: &PlanInput<'_>,
    instruction: &Instruction,
    state: &mut State,
) {
    let depth = state.depth();
    let operand = instruction.operand;
    match instruction.op {
        Op::Constant => {
            let ty = if input.numbers[operand as usize].is_some() { Ty::Number } else { Ty::Any };
            state.push(ty, None);
        }
        Op::GetLocal => state.push_copy(operand),
        Op::SetLocal => {
            let ty = state.ty(depth - 1);
            state.assign(operand, ty);
        }
        Op::StoreLocal => {
            let ty = state.ty(depth - 1);
            state.assign(operand, ty);
            state.truncate(depth - 1);
        }
        Op::Add => {
            let kind = plan.number_kind(instruction, state, input.numbers);
            if kind == NumberKind::Guarded {
                state.refine(depth - 2);
                state.refine(depth - 1);
            }
            state.truncate(depth - 1);
            let ty = if kind == NumberKind::Generic { Ty::Any } else { Ty::Number };
            state.assign(depth - 2, ty);
        }
        Op::AddConstant => {
            let kind = plan.number_kind(instruction, state, input.numbers);
            if kind == NumberKind::Guarded {
                state.refine(depth - 1);
            }
            let ty = if kind == NumberKind::Generic { Ty::Any } else { Ty::Number };
            state.assign(depth - 1, ty);
        }
        Op::Subtract | Op::Multiply | Op::Divide => {
            state.refine(depth - 2);
            state.refine(depth - 1);
            state.truncate(depth - 1);
            state.assign(depth - 2, Ty::Number);
        }
        Op::SubtractConstant | Op::MultiplyConstant | Op::DivideConstant | Op::Negate => {
            state.refine(depth - 1);
            state.assign(depth - 1, Ty::Number);
        }
        Op::Equal | Op::NotEqual => {
            if plan.number_kind(instruction, state, input.numbers) == NumberKind::Guarded {
                state.refine(depth - 2);
                state.refine(depth - 1);
            }
            state.truncate(depth - 1);
            state.assign(depth - 2, Ty::Any);
        }
        Op::Greater | Op::GreaterEqual | Op::Less | Op::LessEqual => {
            state.refine(depth - 2);
            state.refine(depth - 1);
            state.truncate(depth - 1);
            state.assign(depth - 2, Ty::Any);
        }
        Op::JumpIfNotLess
        | Op::JumpIfNotLessEqual
        | Op::JumpIfNotGreater
        | Op::JumpIfNotGreaterEqual => {
            state.refine(depth - 2);
            state.refine(depth - 1);
            state.truncate(depth - 2);
        }
        // These leave the value they read on the stack, as it was.
        Op::SetGlobal | Op::SetUpvalue | Op::JumpIfFalse => {}
        op => {
            // Everything else pops its operands and pushes values of any
            // type; a call may also change slots a closure captured.
            let info = op.info();
            let args = if info.effect.pops_args { operand } else { 0 };
            let kept = depth - u32::from(info.effect.pops) - args;
            state.truncate(kept);
            for _ in 0..info.effect.pushes {
                state.push(Ty::Any, None);
            }
            if changes_captured(op) {
                for slot in 0..state.depth() {
                    if input.facts.may_be_captured(instruction.offset, slot) {
                        state.assign(slot, Ty::Any);
                    }
                }
            }
        }
    }
}

/// Whether `op` may run Lox code, which may assign slots of this frame that
/// a closure captured.
pub(crate) fn changes_captured(op: Op) -> bool {
    op.info().effects.calls
}
