"""Word lists for demo titles, series, publishers and the people in the blurbs (demo data only).

Invented titles in the shapes real ones take ("The Salt Orchard", "A Field Guide to Quiet Rivers"); no real
book is named. The e2e tests seed a book called "The Lighthouse Almanac" by "Ottoline Quarrendon" and search for
it by those words, so neither "Lighthouse", "Almanac" nor "Quarrendon" may appear here.
"""
from __future__ import annotations

ADJECTIVES = [
    "Silent", "Hidden", "Last", "Golden", "Broken", "Forgotten", "Crimson", "Midnight", "Distant", "Secret",
    "Wild", "Quiet", "Burning", "Frozen", "Lost", "Wandering", "Little", "Endless", "Bright", "Bitter",
    "Hollow", "Restless", "Salt", "Paper", "Glass", "Iron", "Velvet", "Northern", "Sunken", "Painted",
    "Summer", "Winter", "Autumn", "Electric", "Gentle", "Lonely", "Curious", "Scarlet", "Silver", "Drowned",
    "Borrowed", "Copper", "Unquiet", "Tender", "Secondhand", "Orchard", "Lantern", "Sleeping", "Weathered", "Amber",
]
NOUNS = [  # things and places: "The Salt Orchard", "When the River Sleeps"
    "River", "Garden", "House", "Kingdom", "Night", "Sea", "Letter", "Orchard", "Mountain", "City",
    "Island", "Harbour", "Library", "Clock", "Forest", "Storm", "Crown", "Mirror", "Lantern", "Bridge",
    "Road", "Map", "Song", "Tide", "Sky", "Fire", "Heart", "Shadow", "Star", "Field", "Room", "Window",
    "Door", "Compass", "Atlas", "Feather", "Engine", "Archive", "Glasshouse", "Hour", "Ledger", "Quarry",
]
PEOPLE = [  # "The Cartographer's Daughter", "What the Ferryman Remembers"
    "Stranger", "Widow", "Thief", "Keeper", "Witness", "Pilgrim", "Cartographer", "Apprentice", "Orphan",
    "Beekeeper", "Ferryman", "Weaver", "Orchardist", "Bellmaker", "Clockmaker", "Translator", "Botanist",
]
KIN_NOUNS = ["Daughter", "Son", "Wife", "Husband", "Apprentice", "Sister", "Secret", "Last Letter", "Map"]
ENDS = ["Road", "Pier", "Lane", "World", "Line", "Garden", "Summer"]
HOUSES = ["Orchard", "River", "Salt", "Harbour", "Bell", "Glass", "Willow", "Tide"]
PLURALS = [
    "Rivers", "Gardens", "Birds", "Islands", "Stones", "Letters", "Orchards", "Tides", "Lanterns", "Bridges",
    "Maps", "Songs", "Winters", "Foxes", "Bees", "Harbours", "Clocks", "Ferries", "Moths", "Wolves",
]
PLACES = [
    "Lisbon", "Avalon", "Prague", "the North", "Kyoto", "Marrakesh", "the Marsh", "Vienna", "the Valley",
    "Alexandria", "Samarkand", "the Coast", "Oxford", "Havana", "the Moor", "Venice", "Patagonia", "Galway",
    "Trieste", "the Fens", "Tangier", "Hobart", "Valparaíso", "the Lowlands", "Odessa", "St Ives",
]
VERBS = ["Falls", "Sleeps", "Burns", "Returns", "Remembers", "Breaks", "Sings", "Waits", "Turns", "Keeps"]
GUIDES = ["A Field Guide to", "Notes on", "A Short History of", "In Praise of", "The Art of", "A Year of",
          "Letters to", "The Book of", "A Map of"]

NONFICTION_TOPICS = {
    "Biography": ["A Life", "The Making of a Rebel", "Letters and Lives", "An Unlikely Hero", "A Restless Mind"],
    "Business": ["Strategy", "Leadership", "Small Shops", "Negotiation", "Markets", "Slow Growth"],
    "Cookery": ["Bread", "Spice", "Vegetables", "One Pot", "Baking", "Fermentation", "Soup", "the Coastal Kitchen"],
    "History": ["Empires", "The Silk Road", "Revolutions", "The Medieval World", "Trade and Power", "Lost Cities"],
    "Philosophy": ["Ethics", "Meaning", "Reason", "Freedom", "The Good Life", "Attention"],
    "Science": ["The Cosmos", "Genes", "Quantum Worlds", "Climate", "The Brain", "Evolution", "Fungi"],
    "Self-Help": ["Habits", "Focus", "Calm", "Courage", "Better Sleep", "Starting Over"],
    "Travel": ["Slow Roads", "Islands", "Mountain Paths", "Rail Journeys", "Coastlines", "Night Trains"],
}
# Series: "Book 2 of The Marrow Coast". Names are made of these two lists.
SERIES_FIRST = ["Marrow", "Thornwick", "Ashfall", "Kestrel", "Saltmarsh", "Ember", "Harrow", "Wren", "Tallow",
                "Greywater", "Blackthorn", "Lantern", "Hollin", "Cinder", "Starling", "Brackwater", "Moth", "Juniper"]
SERIES_SECOND = ["Coast", "Chronicles", "Quartet", "Trilogy", "Cycle", "Mysteries", "Files", "Saga", "Road",
                 "Archive", "Company", "Isles"]

PUBLISHERS = [
    "Harbour & Finch", "Lanternlight Press", "Quill House", "Northgate Books", "Marigold Editions",
    "Blue Heron Publishing", "Oakleaf & Stone", "Meridian Press", "Copperplate Books", "Tidewater House",
    "Juniper Lane", "Foxglove Press", "Saltmarsh Books", "Greyhound Editions", "Kestrel & Wren",
]
# People and things in the blurbs.
JOBS = ["a ferry pilot", "a retired detective", "a night-shift nurse", "a young archivist", "a beekeeper",
        "a disgraced surgeon", "a piano tuner", "a cartographer", "a harbour master's grandson", "a baker",
        "a translator", "a schoolteacher", "a smuggler", "a widowed clockmaker", "an apprentice glassblower",
        "a radio operator", "a botanist", "a stage magician", "a court painter", "a fisherman's daughter"]
KIN = ["sister", "brother", "mother", "father", "oldest friend", "grandmother", "estranged son", "first love",
       "business partner", "neighbour"]
THINGS = ["a box of unsent letters", "a stolen painting", "a map with one island too many", "a locked diary",
          "a ship's bell", "a missing manuscript", "an inheritance no one wanted", "a photograph from 1953",
          "a key that fits no door", "a jar of seeds", "a half-finished symphony", "a ledger of debts"]
