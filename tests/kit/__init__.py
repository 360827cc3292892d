"""What tests share: fakes, the manual clock, sample domain objects, deployments on Ray."""
