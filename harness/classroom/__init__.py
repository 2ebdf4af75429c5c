"""The course's administration around grading: from Canvas's download to grades and feedback back.

    run          the class run as a pipeline of steps (read, collect, cross-check, grade, compare, give, write)
    tables       people's CSV files as Excel and Canvas write them: encodings, delimiters, decimal commas
    roster       Canvas's gradebook export: who is in the class
    collect      Canvas's bulk download (or one folder or zip per submission), one Submission each
    staging      a submission's files taken in under bounds: no link followed, no pipe read
    groups       Canvas's group-set export: pairs graded once, every member given the result
    classlist    who gets a row in the gradebooks, and why
    lateness     the handout's late penalty, from an unambiguous deadline, said as a person would
    marks        the TA's marks: the template, and the filled-in file checked cell by cell
    gradebook    points, the detailed gradebook and Canvas's import file
    feedback     feedback per student (Markdown, and PDF for Canvas's re-upload), the table
    outputs      a run's outputs written together or not at all, the previous ones kept
    quoting      a submission's text as data in every output
    similarity, overview, record   copying, the class at a glance, what produced a run
"""
