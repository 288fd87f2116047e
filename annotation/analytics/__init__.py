"""Agreement and annotator-quality math on numpy arrays: no Django, no database.

The selectors load judgements into arrays; these functions turn them into numbers:
`alpha` (Krippendorff), `agreement` (percent agreement, Fleiss' kappa, value counts),
`rankings` (pairwise decomposition), `annotators` (leave-one-out agreement, binomial tests),
`dawid_skene` (annotator reliability), `pair_votes` (consensus), `spam` (flag rules).
"""
