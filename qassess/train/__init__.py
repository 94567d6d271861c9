"""Fine-tuning: typed recipes, training data, the GRPO and SFT trainers, the policy inside a step, rewards."""
