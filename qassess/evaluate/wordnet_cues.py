"""Quality cue words from WordNet 3.0, written by scripts/build_lexicon.py (do not edit by hand:
change its SEEDS or EXCLUDE and rerun it). Seed senses: 00780352 (crisp, sharp), 00779374 (distinct), 00781644 (blurred, blurry, fuzzy), 00310433 (detailed, elaborate), 00402855 (bright, brilliant, vivid), 00393683 (intense, vivid), 00393508 (saturated, pure), 00403385 (deep, rich), 00393992 (dull), 00404961 (bleached, faded, washed-out), 00271022 (bright), 00273082 (dark), 00217728 (beautiful), 01343918 (interesting), 01807220 (pleasing), 01800350 (pleasant), 00166146 (attractive), 01123148 (good), 01125429 (bad), 01801601 (unpleasant).

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. THIS SOFTWARE AND
DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES,
EXPRESS OR IMPLIED (WordNet 3.0 licence; the word lists below are derived from the database).
"""

CUES: dict[str, dict[str, tuple[str, ...]]] = {
    'appeal': {
        'good': (
            'amusing', 'beauteous', 'beautiful', 'better looking', 'bonnie', 'bonny', 'comely', 'dishy',
            'diverting', 'engrossing', 'entertaining', 'exquisite', 'fascinating', 'fine looking', 'glorious',
            'good looking', 'gorgeous', 'gripping', 'handsome', 'interesting', 'intriguing', 'lovely',
            'newsworthy', 'picturesque', 'pretty pretty', 'pulchritudinous', 'ravishing', 'resplendent',
            'riveting', 'scenic', 'sightly', 'splendid', 'splendiferous', 'stunning', 'well favored',
            'well favoured',
        ),
        'bad': (
            'boring', 'disfigured', 'dull', 'evil looking', 'fugly', 'grotesque', 'hideous', 'ho hum',
            'ill favored', 'ill favoured', 'insipid', 'irksome', 'jejune', 'monstrous', 'ponderous',
            'prosaic', 'putdownable', 'repulsive', 'scrofulous', 'soporiferous', 'soporific', 'tedious',
            'tiresome', 'ugly', 'uninteresting', 'unlovely', 'unpicturesque', 'unsightly', 'wearisome',
        ),
    },
    'color': {
        'good': (
            'bright', 'colorful', 'colourful', 'rich', 'saturated', 'vibrant', 'vivid',
        ),
        'bad': (
            'ashen', 'blanched', 'bleached', 'bloodless', 'colorless', 'colourless', 'drab', 'dull', 'dulled',
            'etiolate', 'etiolated', 'faded', 'greyed', 'pale', 'pallid', 'pastelike', 'pasty', 'prefaded',
            'somber', 'sombre', 'unsaturated', 'wan', 'washed out', 'washy', 'waxen', 'waxlike', 'waxy',
            'whitened',
        ),
    },
    'evaluative': {
        'good': (
            'acceptable', 'admirable', 'attractive', 'bang up', 'beautiful', 'bewitching', 'captivating',
            'charismatic', 'charming', 'cute', 'delicious', 'delightful', 'dulcet', 'enchanting', 'engaging',
            'enjoyable', 'enthralling', 'entrancing', 'fab', 'fabulous', 'fascinating', 'fetching', 'good',
            'good enough', 'gratifying', 'great', 'hypnotic', 'idyllic', 'ingratiating', 'irresistible',
            'magnetic', 'mesmeric', 'mesmerizing', 'not bad', 'personable', 'photogenic', 'piquant',
            'pleasant', 'pleasing', 'pleasurable', 'prepossessing', 'satisfactory', 'slap up', 'solid',
            'spellbinding', 'superb', 'well behaved', 'winsome',
        ),
        'bad': (
            'abominable', 'acerb', 'acerbic', 'acrid', 'afflictive', 'atrocious', 'awful', 'beastly',
            'blistering', 'crappy', 'deplorable', 'disconcerting', 'displeasing', 'distressing', 'dreadful',
            'embarrassing', 'exasperating', 'fearful', 'forbidding', 'frightful', 'god awful', 'harsh',
            'hellish', 'homely', 'horrid', 'icky', 'infuriating', 'lamentable', 'lousy', 'maddening',
            'mortifying', 'no good', 'off putting', 'painful', 'pitiful', 'poor', 'rebarbative', 'repellant',
            'repellent', 'rotten', 'sharp worded', 'shitty', 'stinking', 'stinky', 'swingeing', 'terrible',
            'unattractive', 'unfavorable', 'unfavourable', 'unhappy', 'unpleasant', 'unprepossessing',
            'unpresentable', 'unspeakable', 'unsuitable', 'upsetting', 'vexing', 'virulent', 'vitriolic',
        ),
    },
    'exposure': {
        'good': (
            'bright', 'floodlighted', 'floodlit', 'illuminated', 'incandescent', 'lamplit', 'lighting up',
            'sunlit', 'sunstruck', 'well lighted',
        ),
        'bad': (
            'acheronian', 'acherontic', 'caliginous', 'cimmerian', 'crepuscular', 'darkening', 'darkling',
            'dusky', 'gloomful', 'glooming', 'gloomy', 'lightless', 'pitch black', 'pitch dark', 'semidark',
            'stygian', 'tenebrious', 'unilluminated', 'unlighted', 'unlit',
        ),
    },
    'sharpness': {
        'good': (
            'chiseled', 'clean cut', 'clear cut', 'crisp', 'defined', 'detailed', 'distinct', 'outlined',
            'razor sharp', 'well defined',
        ),
        'bad': (
            'bedimmed', 'bleary', 'blurred', 'blurry', 'foggy', 'fuzzy', 'hazy', 'indistinct', 'muzzy',
            'nebulose', 'nebulous', 'sloppy', 'vague', 'veiled',
        ),
    },
}
